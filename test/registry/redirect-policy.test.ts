// The redirect policy (pure) and the lookup that applies it to every address a redirect
// target's name resolves to.
import { describe, expect, it } from 'vitest';
import { guardedLookup, RedirectRefusedError, type ResolveAll } from '../../shared/registry/guarded-lookup.js';
import { addressProblem, classifyAddress, redactedUrl, redirectUrlProblem } from '../../shared/registry/redirect-policy.js';

describe('classifyAddress', () => {
  it.each([
    ['8.8.8.8', 'public'], ['2606:4700::1111', 'public'], ['172.32.0.1', 'public'], ['::ffff:8.8.8.8', 'public'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'], ['fd12:3456::1', 'private'], ['::ffff:10.0.0.1', 'private'],
    ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['::1', 'loopback'], ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'],
    ['169.254.1.1', 'link-local'], ['fe80::1', 'link-local'], ['febf::1', 'link-local'],
    ['169.254.169.254', 'metadata'], ['169.254.170.2', 'metadata'], ['100.100.100.200', 'metadata'], ['fd00:ec2::254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'], ['::ffff:a9fe:a9fe', 'metadata'], ['64:ff9b::169.254.169.254', 'metadata'], ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'], ['255.255.255.255', 'reserved'], ['::127.0.0.1', 'reserved'],
    ['[::1]', 'loopback'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it('refuses what is not an address', () => {
    expect(() => classifyAddress('example.com')).toThrow(/not an IP address/);
  });
});

describe('addressProblem', () => {
  it('allows public addresses always, private and loopback only when allowed', () => {
    expect(addressProblem('8.8.8.8', { allowPrivate: false })).toBeUndefined();
    expect(addressProblem('10.0.0.1', { allowPrivate: false })).toMatch(/private address \(allowed only when the registry itself is on one, or with allowPrivateRedirects: true\)/);
    expect(addressProblem('127.0.0.1', { allowPrivate: false })).toMatch(/loopback address/);
    expect(addressProblem('10.0.0.1', { allowPrivate: true })).toBeUndefined();
    expect(addressProblem('::1', { allowPrivate: true })).toBeUndefined();
  });

  it('refuses link-local, metadata, unspecified, multicast and reserved addresses even when private ones are allowed', () => {
    for (const address of ['169.254.169.254', '169.254.3.4', 'fe80::1', 'fd00:ec2::254', '0.0.0.0', '::', '224.0.0.1', '255.255.255.255']) {
      expect(addressProblem(address, { allowPrivate: true }), address).toMatch(/never a redirect target/);
    }
  });
});

describe('redirectUrlProblem', () => {
  const open = { allowPrivate: true };
  it('follows only http: and https:', () => {
    for (const url of ['ftp://files.example.com/blob', 'gopher://127.0.0.1:70/_x', 'file:///etc/passwd', 'data:text/plain,hi', 'javascript:alert(1)']) {
      expect(redirectUrlProblem(new URL(url), open), url).toMatch(/^scheme \w+: is not http: or https:$/);
    }
    expect(redirectUrlProblem(new URL('https://bucket.s3.amazonaws.com/x?X-Amz-Signature=1'), open)).toBeUndefined();
  });

  it('judges address literals in every spelling the URL parser accepts', () => {
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://2852039166/', 'http://0xa9.0xfe.0xa9.0xfe/', 'http://[::ffff:169.254.169.254]/', 'http://[fd00:ec2::254]/']) {
      expect(redirectUrlProblem(new URL(url), open), url).toMatch(/metadata address, never a redirect target/);
    }
    expect(redirectUrlProblem(new URL('http://0/'), open)).toMatch(/unspecified/);
    expect(redirectUrlProblem(new URL('http://127.1:8080/'), { allowPrivate: false })).toMatch(/loopback/);
  });

  it('refuses credentials in the target URL; names are left to the connect-time lookup', () => {
    expect(redirectUrlProblem(new URL('http://user:pw@storage.example.com/'), open)).toMatch(/credentials/);
    expect(redirectUrlProblem(new URL('http://metadata.google.internal/'), { allowPrivate: false })).toBeUndefined();
  });

  it('redacts the query of URLs it shows', () => {
    expect(redactedUrl(new URL('https://user:pw@s3.example.com:444/b/o?X-Amz-Signature=secret'))).toBe('https://s3.example.com:444/b/o?…');
  });
});

describe('guardedLookup', () => {
  const answers = (map: Record<string, string[]>): ResolveAll => (hostname, callback) => {
    const list = map[hostname];
    if (!list) callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    else callback(null, list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  };
  const lookup = guardedLookup(async () => ({ allowPrivate: false }), answers({
    'metadata.test': ['169.254.169.254'],
    'mixed.test': ['169.254.169.254', '93.184.216.34', '10.0.0.1'],
    'v6.test': ['fe80::1', '2606:4700::1111'],
  }));
  const call = (host: string, options: { all?: boolean; family?: number }) => new Promise<{ err: Error | null; address: unknown; family?: number }>((resolve) => {
    lookup(host, options, (err, address, family) => resolve({ err, address, ...(family !== undefined ? { family } : {}) }));
  });

  it('fails a name that resolves only to refused addresses', async () => {
    const { err } = await call('metadata.test', { all: true });
    expect(err).toBeInstanceOf(RedirectRefusedError);
    expect(err!.message).toBe('metadata.test resolves to no allowed address (169.254.169.254 is a metadata address, never a redirect target)');
  });

  it('hands the socket only the allowed addresses, in both lookup forms', async () => {
    expect(await call('mixed.test', { all: true })).toEqual({ err: null, address: [{ address: '93.184.216.34', family: 4 }] });
    expect(await call('mixed.test', {})).toEqual({ err: null, address: '93.184.216.34', family: 4 });
    expect(await call('v6.test', { family: 6 })).toEqual({ err: null, address: '2606:4700::1111', family: 6 });
  });

  it('passes resolution errors through', async () => {
    expect((await call('nowhere.test', { all: true })).err).toMatchObject({ code: 'ENOTFOUND' });
  });
});
