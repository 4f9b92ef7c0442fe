// Where credentials go in the token flow: a real HTTPS Distribution registry (private CA)
// whose token auth names a realm on plain http (the testbed token server). ferry must not
// send the password there unless the registry is configured insecure; a realm on another
// host is used, and reported once.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthEvent } from '../../shared/registry/auth.js';
import { RegistryClient } from '../../shared/registry/client.js';
import { RegistryError } from '../../shared/registry/errors.js';
import { createPrivateCa, type PrivateCa } from '../testbed/pki.js';
import { pushRandomImage, type TestImage } from '../testbed/images.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { startTokenServer, type TokenServer } from '../testbed/token-server.js';

const creds = { username: 'robot', password: 'cle4rtext-never' };
let ca: PrivateCa;
let caPem: string;
let tokens: TokenServer;
let sameHost: DistributionRegistry;
let otherHost: DistributionRegistry;
let image: TestImage;
const clients: RegistryClient[] = [];

function client(registry: DistributionRegistry, extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient {
  const c = new RegistryClient({ name: 'secure', url: registry.url, tls: { ca: [caPem] }, credentials: creds, ...extra });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  ca = await createPrivateCa('token-realm');
  caPem = await readFile(ca.caFile, 'utf8');
  tokens = await startTokenServer({ users: { robot: creds.password } });
  expect(tokens.url.startsWith('http://127.0.0.1:')).toBe(true);
  // Both serve HTTPS; one names the realm by the registry's own address, the other by "localhost".
  sameHost = await startRegistry({ name: 'realm-same', tls: ca.server, token: tokens.auth });
  otherHost = await startRegistry({ name: 'realm-other', tls: ca.server, token: { ...tokens.auth, realm: tokens.auth.realm.replace('127.0.0.1', 'localhost') } });
  expect(sameHost.url.startsWith('https://')).toBe(true);
  image = await pushRandomImage(`${sameHost.host}/team/app:v1`, { layerSizes: [2_000], creds });
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stopAllRegistries();
  await tokens?.stop();
  await ca?.dispose();
});

describe('token realms', () => {
  it('an https registry with an http:// realm gets no credentials sent there', async () => {
    const before = tokens.requests.length;
    const error = await client(sameHost).getManifest('team/app', 'v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ registry: 'secure', code: 'INSECURE_REALM' });
    expect((error as RegistryError).transient).toBe(false);
    expect((error as Error).message).toMatch(/^registry secure sent a token realm http:\/\/127\.0\.0\.1:\d+\/token over plain http; ferry sends credentials only to https realms \(set insecure: true/);
    expect(tokens.requests.length).toBe(before);
  });

  it('with insecure: true the same realm is used', async () => {
    const manifest = await client(sameHost, { insecure: true }).getManifest('team/app', 'v1');
    expect(manifest?.digest).toBe(image.digest);
    expect(tokens.requests.at(-1)).toMatchObject({ user: 'robot', status: 200 });
  });

  it('a realm on another host is used and reported once', async () => {
    const events: AuthEvent[] = [];
    const c = client(otherHost, { insecure: true, onAuthEvent: (e) => events.push(e) });
    await pushRandomImage(`${otherHost.host}/team/other:v1`, { layerSizes: [1_000], creds });
    expect(await c.getManifest('team/other', 'v1')).toBeDefined();
    expect(await c.tags('team/other')[Symbol.asyncIterator]().next()).toMatchObject({ value: 'v1' });
    expect(await c.headManifest('team/app', 'v1')).toBeUndefined();
    expect(events).toEqual([{ kind: 'realm-elsewhere', realm: expect.stringMatching(/^http:\/\/localhost:\d+\/token$/) }]);
  });
});
