// The registry client's API against a real Distribution registry: manifests, blobs,
// listings, and what its errors say when things go wrong.
import { createServer, type Server } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BandwidthLimiter } from '../../shared/registry/bandwidth.js';
import { RegistryClient } from '../../shared/registry/client.js';
import { DigestMismatchError, RegistryError } from '../../shared/registry/errors.js';
import { isUntagUnsupported } from '../../shared/registry/manifests.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { digestOf, OCI_MANIFEST, pushRandomImage, type TestImage } from '../testbed/images.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let registry: DistributionRegistry;
let proxy: FaultProxy;
let image: TestImage;
const clients: RegistryClient[] = [];

function client(url = registry.url, extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient {
  const c = new RegistryClient({ name: 'reg', url, insecure: true, retry: { attempts: 2, baseDelayMs: 20, maxDelayMs: 500 }, ...extra });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  registry = await startRegistry({ name: 'client' });
  proxy = await startFaultProxy(registry.url);
  image = await pushRandomImage(`${registry.host}/lib/app:v1`, { layerSizes: [50_000, 400_000] });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await proxy?.stop();
  await stopAllRegistries();
});

describe('manifests', () => {
  it('GET returns the exact bytes, their digest and media type; by tag and by digest', async () => {
    const c = client();
    const byTag = await c.getManifest('lib/app', 'v1');
    expect(byTag).toEqual({ digest: image.digest, mediaType: OCI_MANIFEST, bytes: image.bytes });
    const byDigest = await c.getManifest('lib/app', image.digest);
    expect(byDigest?.bytes.equals(image.bytes)).toBe(true);
  });

  it('HEAD returns the digest; a missing manifest or repository is undefined, not an error', async () => {
    const c = client();
    expect(await c.headManifest('lib/app', 'v1')).toMatchObject({ digest: image.digest, mediaType: OCI_MANIFEST, size: image.bytes.length });
    expect(await c.headManifest('lib/app', 'nope')).toBeUndefined();
    expect(await c.getManifest('lib/app', 'nope')).toBeUndefined();
    expect(await c.getManifest('no/such/repo', 'v1')).toBeUndefined();
  });

  it('PUT stores the bytes unchanged under a new tag, and refuses a manifest whose blobs are missing', async () => {
    const c = client();
    expect(await c.putManifest('lib/app', 'v1-again', { bytes: image.bytes, mediaType: OCI_MANIFEST })).toBe(image.digest);
    expect((await c.getManifest('lib/app', 'v1-again'))?.bytes.equals(image.bytes)).toBe(true);

    const error = await c.putManifest('lib/empty', 'v1', { bytes: image.bytes, mediaType: OCI_MANIFEST }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ registry: 'reg', repository: 'lib/empty', reference: 'v1', status: 400, code: 'MANIFEST_BLOB_UNKNOWN' });
  });

  it('DELETE by digest removes the manifest; a second delete reports it absent', async () => {
    const c = client();
    const other = await pushRandomImage(`${registry.host}/lib/del:v1`, { layerSizes: [1_000] });
    expect(await c.deleteManifest('lib/del', other.digest)).toBe(true);
    expect(await c.headManifest('lib/del', 'v1')).toBeUndefined();
    expect(await c.deleteManifest('lib/del', other.digest)).toBe(false);
  });

  it('DELETE by tag on Distribution 2.8 is refused in a way the delete path recognises', async () => {
    const error = await client().deleteManifest('lib/app', 'v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(isUntagUnsupported(error)).toBe(true);
    expect(await client().headManifest('lib/app', 'v1')).toBeDefined();
  });

  it('a manifest served with bytes that do not match the digest asked for is a DigestMismatchError', async () => {
    proxy.inject({ match: { method: 'GET', path: `/manifests/${image.digest}` }, fault: { kind: 'corrupt' } });
    const error = await client(proxy.url).getManifest('lib/app', image.digest).catch((e: unknown) => e);
    // Corrupted JSON may also fail to parse first; either way it is refused with context.
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ registry: 'reg', repository: 'lib/app', reference: image.digest });
    expect(['DIGEST_MISMATCH', 'MANIFEST_INVALID']).toContain((error as RegistryError).code);
    proxy.reset();
  });
});

describe('blobs', () => {
  it('streams a blob that hashes to its digest; HEAD tells presence and size', async () => {
    const c = client();
    const layer = image.layers[1]!;
    expect(await c.headBlob('lib/app', layer.digest)).toEqual({ size: layer.size });
    const { stream, size } = await c.openBlob('lib/app', layer.digest);
    expect(size).toBe(layer.size);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(digestOf(Buffer.concat(chunks))).toBe(layer.digest);
    expect(await c.headBlob('lib/app', `sha256:${'0'.repeat(64)}`)).toBeUndefined();
  });

  it('refuses to upload bytes that do not match the digest, leaving nothing behind', async () => {
    const c = client();
    const good = Buffer.from('the bytes the digest names');
    const bad = Buffer.from('some other bytes of a length');
    const digest = digestOf(good);
    const error = await c.uploadBlob('lib/upload', { digest, size: bad.length }, Readable.from([bad])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(await c.headBlob('lib/upload', digest)).toBeUndefined();
    await c.uploadBlob('lib/upload', { digest, size: good.length }, Readable.from([good]));
    expect(await c.headBlob('lib/upload', digest)).toEqual({ size: good.length });
  });

  it('caps throughput with a shared bandwidth limiter', async () => {
    const limiter = new BandwidthLimiter(400_000);
    const c = client(registry.url, { throttle: limiter });
    const layer = image.layers[1]!; // ~400 KB
    const started = Date.now();
    const [a, b] = await Promise.all([c.openBlob('lib/app', layer.digest), c.openBlob('lib/app', layer.digest)]);
    const drain = async (s: Readable) => { let n = 0; for await (const chunk of s) n += (chunk as Buffer).length; return n; };
    const [na, nb] = await Promise.all([drain(a.stream), drain(b.stream)]);
    expect(na + nb).toBe(2 * layer.size);
    // ~800 KB through a 400 KB/s limiter (minus the initial burst) takes well over a second.
    expect(Date.now() - started).toBeGreaterThan(1_200);
  });
});

describe('listings', () => {
  it('lists every tag of a repository (Distribution 2.8 answers tags/list in one page)', async () => {
    const c = client();
    const base = (await c.getManifest('lib/app', 'v1'))!;
    for (const tag of ['a', 'b', 'c', 'd', 'e']) await c.putManifest('lib/paged', tag, base).catch(async () => {
      // The blobs live in lib/app: mount them into lib/paged first.
      for (const d of [...image.layers, ...image.configs]) await c.mountBlob('lib/paged', d.digest, 'lib/app');
      await c.putManifest('lib/paged', tag, base);
    });
    proxy.reset();
    const viaProxy = client(proxy.url);
    const tags: string[] = [];
    for await (const tag of viaProxy.tags('lib/paged', { pageSize: 2 })) tags.push(tag);
    expect(tags.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(proxy.count({ method: 'GET', path: '/tags/list?n=2' })).toBe(1);
  });

  it('pages through the catalog with n= and the Link header', async () => {
    proxy.reset();
    const repos: string[] = [];
    for await (const repo of client(proxy.url).catalog({ pageSize: 1 })) repos.push(repo);
    expect(repos).toEqual(expect.arrayContaining(['lib/app', 'lib/paged']));
    expect(new Set(repos).size).toBe(repos.length);
    expect(proxy.count({ method: 'GET', path: '/v2/_catalog' })).toBeGreaterThanOrEqual(repos.length);
    expect(proxy.requests.filter((r) => r.path.includes('/v2/_catalog')).slice(1).every((r) => r.path.includes('last='))).toBe(true);
  });

  it('lists nothing for a repository the registry does not know', async () => {
    const tags: string[] = [];
    for await (const tag of client().tags('no/such')) tags.push(tag);
    expect(tags).toEqual([]);
  });
});

describe('per-registry limits', () => {
  it('spaces requests to the configured requests per second', async () => {
    const c = client(registry.url, { limits: { requestsPerSecond: 10 } });
    const started = Date.now();
    // One ping plus 24 HEADs: 10 pass in the initial burst, the other 15 at 10/s.
    await Promise.all(Array.from({ length: 24 }, () => c.headManifest('lib/app', 'v1')));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    proxy.reset();
    proxy.inject({ match: { method: 'HEAD', path: '/manifests/' }, fault: { kind: 'delay', ms: 300 }, times: Infinity });
    const c = client(proxy.url, { limits: { concurrency: 2 } });
    await c.ping();
    const started = Date.now();
    await Promise.all(Array.from({ length: 6 }, () => c.headManifest('lib/app', 'v1')));
    // Six 300 ms answers two at a time: three rounds.
    expect(Date.now() - started).toBeGreaterThanOrEqual(850);
    proxy.reset();
  });
});

describe('network failures', () => {
  it('a refused connection is a transient NETWORK error naming the registry', async () => {
    const port = await closedPort();
    const error = await client(`http://127.0.0.1:${port}`).getManifest('lib/app', 'v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ registry: 'reg', code: 'NETWORK' });
    expect((error as RegistryError).transient).toBe(true);
  });

  it('a registry that does not answer in time is a transient TIMEOUT error', async () => {
    const c = client(proxy.url, { timeouts: { headersMs: 300 } });
    await c.ping();
    proxy.inject({ match: { path: '/manifests/' }, fault: { kind: 'delay', ms: 2_000 }, times: 5 });
    const error = await c.getManifest('lib/app', 'v1').catch((e: unknown) => e);
    expect(error).toMatchObject({ registry: 'reg', repository: 'lib/app', reference: 'v1', code: 'TIMEOUT' });
    expect((error as RegistryError).transient).toBe(true);
    proxy.reset();
  });

  it('retries transient 503s on reads inside the client', async () => {
    proxy.reset();
    proxy.failWith({ method: 'GET', path: '/manifests/v1' }, 503, 2);
    const manifest = await client(proxy.url).getManifest('lib/app', 'v1');
    expect(manifest?.digest).toBe(image.digest);
    expect(proxy.count({ method: 'GET', path: '/manifests/v1' })).toBe(3);
    proxy.reset();
  });

  it('retries a 500 to a blob HEAD or GET (Distribution racing an upload of that blob), never to a write', async () => {
    proxy.reset();
    const layer = image.layers[0]!;
    proxy.failWith({ method: 'HEAD', path: `/blobs/${layer.digest}` }, 500, 1);
    expect(await client(proxy.url).headBlob('lib/app', layer.digest)).toEqual({ size: layer.size });
    expect(proxy.count({ method: 'HEAD', path: `/blobs/${layer.digest}` })).toBe(2);
    proxy.failWith({ method: 'POST', path: '/blobs/uploads/' }, 500, 1);
    const error = await client(proxy.url).startUpload('lib/copy').catch((e: unknown) => e);
    expect(error).toMatchObject({ registry: 'reg', status: 500 });
    expect(proxy.count({ method: 'POST', path: '/blobs/uploads/' })).toBe(1);
    proxy.reset();
  });

  it('gives up after its retries with a transient error carrying the status and OCI code', async () => {
    proxy.failWith({ method: 'GET', path: '/manifests/v1' }, 503, 10);
    const error = await client(proxy.url).getManifest('lib/app', 'v1').catch((e: unknown) => e);
    expect(error).toMatchObject({ registry: 'reg', repository: 'lib/app', reference: 'v1', status: 503, code: 'UNAVAILABLE' });
    expect((error as RegistryError).transient).toBe(true);
    proxy.reset();
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server: Server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
