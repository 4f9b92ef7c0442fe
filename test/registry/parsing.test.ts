// The pure pieces of the registry client: header and body parsing, media-type policy,
// docker config lookup, verification of an upload's bytes as they are sent (through a real
// HTTP server) and rate limiting.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWWWAuthenticate, repositoryScope } from '../../shared/registry/auth.js';
import { chunked } from '../../shared/registry/blobs.js';
import { lookupDockerConfig, normalizeAuthKey, parseHelperOutput } from '../../shared/registry/credentials/docker-config.js';
import { computeDigest, DigestVerifier, verifyingTap } from '../../shared/registry/digest.js';
import { DigestMismatchError, RegistryError, UnsupportedManifestError } from '../../shared/registry/errors.js';
import { nextLink } from '../../shared/registry/listing.js';
import { parseManifestContent, resolveManifestMediaType } from '../../shared/registry/manifest-content.js';
import { isUntagUnsupported } from '../../shared/registry/manifests.js';
import { isNonDistributable, MANIFEST_ACCEPT, MediaTypes } from '../../shared/registry/media-types.js';
import { TokenBucket } from '../../shared/registry/token-bucket.js';
import { parseOciErrors, Transport } from '../../shared/registry/transport.js';

const where = { registry: 'src', repository: 'team/app', reference: 'v1' };

describe('WWW-Authenticate', () => {
  it('parses a Bearer challenge with quoted realm, service and scope', () => {
    expect(parseWWWAuthenticate('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:team/app:pull,push' } },
    ]);
  });

  it('parses Basic, unquoted values, escapes and several challenges in one header', () => {
    expect(parseWWWAuthenticate('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseWWWAuthenticate('Bearer realm=https://a/token, error="insufficient_scope", Basic realm="say \\"hi\\""')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://a/token', error: 'insufficient_scope' } },
      { scheme: 'basic', params: { realm: 'say "hi"' } },
    ]);
    expect(parseWWWAuthenticate(undefined)).toEqual([]);
  });

  it('builds repository scopes', () => {
    expect(repositoryScope('team/app', ['pull', 'push'])).toBe('repository:team/app:pull,push');
  });
});

describe('OCI error bodies and Link headers', () => {
  it('reads the first OCI error code and message', () => {
    expect(parseOciErrors('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}')).toEqual({ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' });
    expect(parseOciErrors('<html>bad gateway</html>')).toBeUndefined();
    expect(parseOciErrors('')).toBeUndefined();
  });

  it('finds the rel="next" target, relative or absolute', () => {
    expect(nextLink('</v2/_catalog?last=b&n=2>; rel="next"')).toBe('/v2/_catalog?last=b&n=2');
    expect(nextLink('<https://r.example.com/v2/a/tags/list?n=1&last=x>; rel=next')).toBe('https://r.example.com/v2/a/tags/list?n=1&last=x');
    expect(nextLink('</v2/x?a=1>; rel="prev", </v2/x?a=3>; rel="next"')).toBe('/v2/x?a=3');
    expect(nextLink(undefined)).toBeUndefined();
    expect(nextLink('</v2/x?a=1>; rel="prev"')).toBeUndefined();
  });
});

describe('manifest media types', () => {
  it('accepts OCI and Docker schema2 manifests and indexes, never asking for schema1', () => {
    expect(MANIFEST_ACCEPT).toContain(MediaTypes.ociIndex);
    expect(MANIFEST_ACCEPT).toContain(MediaTypes.dockerManifestList);
    expect(MANIFEST_ACCEPT).not.toContain(MediaTypes.dockerSchema1);
    expect(MANIFEST_ACCEPT).not.toContain(MediaTypes.dockerSchema1Signed);
    expect(resolveManifestMediaType('application/vnd.docker.distribution.manifest.v2+json', undefined, where)).toBe(MediaTypes.dockerManifest);
    expect(resolveManifestMediaType('application/vnd.oci.image.index.v1+json; charset=utf-8', undefined, where)).toBe(MediaTypes.ociIndex);
  });

  it('refuses schema1 (signed or not) with a clear, permanent error naming the image', () => {
    for (const type of [MediaTypes.dockerSchema1, MediaTypes.dockerSchema1Signed]) {
      const error = (() => {
        try {
          resolveManifestMediaType(type, Buffer.from('{"schemaVersion":1}'), where);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(UnsupportedManifestError);
      expect(error).toMatchObject({ registry: 'src', repository: 'team/app', reference: 'v1', code: 'MANIFEST_UNSUPPORTED' });
      expect((error as Error).message).toMatch(/src\/team\/app:v1 is a Docker schema1 manifest/);
      expect((error as RegistryError).transient).toBe(false);
    }
    // A schema1 body served with a generic content type is caught too.
    expect(() => resolveManifestMediaType('application/json', Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), where)).toThrow(/schema1/);
  });

  it('falls back to the mediaType field, or the shape, when the header is generic', () => {
    expect(resolveManifestMediaType('application/json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest })), where)).toBe(MediaTypes.ociManifest);
    expect(resolveManifestMediaType(undefined, Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })), where)).toBe(MediaTypes.ociIndex);
    expect(() => resolveManifestMediaType('text/plain', Buffer.from('{"schemaVersion":2}'), where)).toThrow(UnsupportedManifestError);
    expect(() => resolveManifestMediaType('text/plain', Buffer.from('not json'), where)).toThrow(/not a valid manifest: invalid JSON/);
  });

  it('reads an index into children and an image into config and layers', () => {
    const d = (n: number) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${String(n).repeat(64)}`, size: n });
    const index = parseManifestContent(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [d(1), d(2)] })), MediaTypes.ociIndex, where);
    expect(index).toMatchObject({ kind: 'index', manifests: [d(1), d(2)] });
    const img = parseManifestContent(Buffer.from(JSON.stringify({ schemaVersion: 2, config: d(3), layers: [d(4)] })), MediaTypes.ociManifest, where);
    expect(img).toMatchObject({ kind: 'image', config: d(3), layers: [d(4)] });
    expect(() => parseManifestContent(Buffer.from(JSON.stringify({ config: d(3), layers: [{ digest: '../../etc', size: 1, mediaType: 'x' }] })), MediaTypes.ociManifest, where))
      .toThrow(/layers\[0\] has an invalid digest/);
  });

  it('recognises non-distributable (foreign) layers', () => {
    expect(isNonDistributable({ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' })).toBe(true);
    expect(isNonDistributable({ mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip' })).toBe(true);
    expect(isNonDistributable({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', urls: ['https://mcr.microsoft.com/x'] })).toBe(true);
    expect(isNonDistributable({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' })).toBe(false);
  });

  it('tells "cannot untag" answers from real failures', () => {
    const err = (status: number, code?: string) => new RegistryError('x', { registry: 'r', status, ...(code ? { code } : {}) });
    expect(isUntagUnsupported(err(400, 'DIGEST_INVALID'))).toBe(true);
    expect(isUntagUnsupported(err(405, 'UNSUPPORTED'))).toBe(true);
    expect(isUntagUnsupported(err(401, 'UNAUTHORIZED'))).toBe(false);
    expect(isUntagUnsupported(err(503))).toBe(false);
    expect(isUntagUnsupported(new Error('x'))).toBe(false);
  });
});

describe('docker config lookup', () => {
  const auth = Buffer.from('robot:pa:ss').toString('base64');

  it('matches host, https://host and https://host/v1/ keys', () => {
    expect(normalizeAuthKey('https://r.example.com:5000/v1/')).toBe('r.example.com:5000');
    for (const key of ['r.example.com:5000', 'https://r.example.com:5000', 'https://r.example.com:5000/v1/']) {
      expect(lookupDockerConfig({ auths: { [key]: { auth } } }, 'r.example.com:5000')).toEqual({ credentials: { username: 'robot', password: 'pa:ss' } });
    }
    expect(lookupDockerConfig({ auths: { 'other.example.com': { auth } } }, 'r.example.com:5000')).toBeUndefined();
  });

  it('prefers credHelpers, then auths, then credsStore; accepts username/password entries', () => {
    expect(lookupDockerConfig({ credHelpers: { 'r.example.com': 'ecr-login' }, auths: { 'r.example.com': { auth } } }, 'r.example.com')).toEqual({ helper: 'ecr-login' });
    expect(lookupDockerConfig({ auths: { 'r.example.com': { username: 'u', password: 'p' } }, credsStore: 'desktop' }, 'r.example.com')).toEqual({ credentials: { username: 'u', password: 'p' } });
    expect(lookupDockerConfig({ credsStore: 'desktop' }, 'r.example.com')).toEqual({ helper: 'desktop' });
    expect(lookupDockerConfig({ auths: { 'r.example.com': { identitytoken: 'refresh' } } }, 'r.example.com')).toEqual({ credentials: { identityToken: 'refresh' } });
    expect(lookupDockerConfig({ auths: { 'https://index.docker.io/v1/': { auth } } }, 'registry-1.docker.io')).toMatchObject({ credentials: { username: 'robot' } });
  });

  it('reads helper output, treating an empty secret as no credentials', () => {
    expect(parseHelperOutput('{"Username":"AWS","Secret":"s"}', 'x')).toEqual({ username: 'AWS', password: 's' });
    expect(parseHelperOutput('{}', 'x')).toBeUndefined();
    expect(parseHelperOutput('{"Username":"<token>","Secret":"refresh"}', 'x')).toEqual({ identityToken: 'refresh' });
    expect(() => parseHelperOutput('oops', 'x')).toThrow(/docker-credential-x/);
  });
});

describe('streaming verification', () => {
  const data = Buffer.alloc(100_000, 7);
  const digest = computeDigest(data);
  // What a registry received of each upload, and whether the request completed.
  let received: Buffer[] = [];
  let completed = false;
  let userAgent: string | undefined;
  const server = createServer((req, res) => {
    userAgent = req.headers['user-agent'];
    req.on('data', (chunk: Buffer) => received.push(chunk));
    req.on('end', () => {
      completed = true;
      res.writeHead(201).end();
    });
  });
  let url: URL;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function run(source: Buffer[], expected: string, size: number): Promise<{ out: Buffer; completed: boolean; error?: unknown }> {
    received = [];
    completed = false;
    const transport = new Transport({ registry: 'dst', url: url.origin, concurrency: 1, timeouts: { connectMs: 2000, headersMs: 2000, bodyMs: 2000 } });
    const tap = verifyingTap(new DigestVerifier(expected, size, { registry: 'src', repository: 'a' }));
    try {
      const res = await transport.request({ url, method: 'PUT', headers: { 'content-length': String(size) }, body: Readable.from(source), tap });
      await res.body.dump();
      return { out: Buffer.concat(received), completed };
    } catch (error) {
      // Let the server see the connection drop before reading what it got.
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { out: Buffer.concat(received), completed, error };
    } finally {
      await transport.close();
    }
  }

  it('sends verified bytes unchanged', async () => {
    const { out, completed: done, error } = await run([data.subarray(0, 30_000), data.subarray(30_000, 70_000), data.subarray(70_000)], digest, data.length);
    expect(error).toBeUndefined();
    expect(done).toBe(true);
    expect(out.equals(data)).toBe(true);
    // Every registry request names ferry and its version.
    expect(userAgent).toMatch(/^ferry\/\d+\.\d+\.\d+/);
  });

  it('on a mismatch fails the upload before its last chunk leaves, so a sized upload stays incomplete', async () => {
    const bad = Buffer.from(data);
    bad[50] = 0;
    const { out, completed: done, error } = await run([bad.subarray(0, 30_000), bad.subarray(30_000, 70_000), bad.subarray(70_000)], digest, data.length);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error).toMatchObject({ registry: 'src', repository: 'a', reference: digest, code: 'DIGEST_MISMATCH' });
    expect(done).toBe(false);
    expect(out.length).toBeLessThanOrEqual(70_000);
  });

  it('fails on too many or too few bytes', async () => {
    expect((await run([data, Buffer.from('x')], digest, data.length)).error).toBeInstanceOf(DigestMismatchError);
    expect((await run([data.subarray(1)], digest, data.length)).error).toBeInstanceOf(DigestMismatchError);
  });

  it('re-slices a stream into fixed-size chunks for chunked uploads', async () => {
    const sizes: number[] = [];
    const parts: Buffer[] = [];
    for await (const c of chunked(Readable.from([data.subarray(0, 7), data.subarray(7, 45_000), data.subarray(45_000)]), 16_384)) {
      sizes.push(c.length);
      parts.push(c);
    }
    expect(sizes).toEqual([16_384, 16_384, 16_384, 16_384, 16_384, 16_384, 1_696]);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('can hand out every chunk in one reused buffer, consumed before the next is pulled', async () => {
    const copies: Buffer[] = [];
    const seen = new Set<ArrayBuffer | SharedArrayBuffer>();
    for await (const c of chunked(Readable.from([data.subarray(0, 30_000), data.subarray(30_000)]), 16_384, { reuse: true })) {
      copies.push(Buffer.from(c));
      seen.add(c.buffer);
    }
    expect(Buffer.concat(copies).equals(data)).toBe(true);
    expect(seen.size).toBe(1);
  });
});

describe('token bucket', () => {
  it('lets a burst through, then spaces takers at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 2, now: () => now });
    expect(bucket.reserve(1)).toBe(0);
    expect(bucket.reserve(1)).toBe(0);
    expect(bucket.reserve(1)).toBe(100);
    expect(bucket.reserve(1)).toBe(200);
    now = 1_000;
    expect(bucket.reserve(1)).toBe(0);
  });

  it('is unlimited at rate 0', () => {
    const bucket = new TokenBucket({ ratePerSecond: 0 });
    expect(bucket.unlimited).toBe(true);
    for (let i = 0; i < 1000; i++) expect(bucket.reserve(1_000_000)).toBe(0);
  });
});
