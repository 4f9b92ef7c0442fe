// The copy engine through a misbehaving network: throttling and outages are survived,
// corrupted bytes never reach the destination, interrupted chunked uploads resume.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../shared/registry/client.js';
import { DigestMismatchError } from '../../shared/registry/errors.js';
import { copyImage } from '../../shared/replicate/copy.js';
import { MemoryBlobIndex } from '../../shared/replicate/blob-index.js';
import { BlobFlights } from '../../shared/replicate/blob-flights.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { digestOf, inspectRaw, pullToOciDir, pushRandomImage } from '../testbed/images.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let src: DistributionRegistry;
let dst: DistributionRegistry;
let srcProxy: FaultProxy;
let dstProxy: FaultProxy;
const clients: RegistryClient[] = [];

const fastRetry = { attempts: 3, baseDelayMs: 50, maxDelayMs: 2_000 };

function client(name: string, url: string, extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient {
  const c = new RegistryClient({ name, url, insecure: true, retry: fastRetry, ...extra });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  const started = await startRegistries(2, { name: 'faults' });
  src = started[0]!;
  dst = started[1]!;
  srcProxy = await startFaultProxy(src.url);
  dstProxy = await startFaultProxy(dst.url);
});

afterEach(() => {
  srcProxy.reset();
  dstProxy.reset();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await srcProxy?.stop();
  await dstProxy?.stop();
  await stopAllRegistries();
});

describe('throttling and outages', () => {
  it('still produces a correct copy through 429s with Retry-After and transient 503s', async () => {
    const image = await pushRandomImage(`${src.host}/team/flaky:v1`, { layerSizes: [20_000, 40_000] });
    const layer = image.layers[1]!.digest;
    srcProxy.failWith({ method: 'GET', path: `/blobs/${layer}` }, 429, 2, 1);
    srcProxy.failWith({ method: 'GET', path: '/manifests/' }, 503, 1);
    dstProxy.failWith({ method: 'HEAD', path: '/blobs/' }, 503, 2);
    dstProxy.failWith({ method: 'POST', path: '/blobs/uploads/' }, 429, 1, 1);
    // A streamed monolithic PUT cannot be replayed by the client: the copy engine re-opens the blob.
    dstProxy.failWith({ method: 'PUT', path: '?' }, 503, 1);
    dstProxy.failWith({ method: 'PUT', path: '/manifests/' }, 503, 1);

    const started = Date.now();
    const result = await copyImage({
      source: { client: client('src', srcProxy.url), repository: 'team/flaky', reference: 'v1' },
      destination: { client: client('dst', dstProxy.url), repository: 'mirror/flaky', tag: 'v1' },
      blobConcurrency: 2, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
    });
    expect(srcProxy.pendingFaults() + dstProxy.pendingFaults()).toBe(0);
    // Retry-After: 1 was honoured at least once.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(result.digest).toBe(image.digest);
    expect((await inspectRaw(`${dst.host}/mirror/flaky:v1`)).equals(image.bytes)).toBe(true);
    await pullToOciDir(`${dst.host}/mirror/flaky:v1`);
  });

  it('surfaces a Retry-After beyond the client cap as a transient error carrying retryAfterMs', async () => {
    await pushRandomImage(`${src.host}/team/slow:v1`, { layerSizes: [1_000] });
    srcProxy.failWith({ method: 'GET', path: '/manifests/' }, 429, 1, 120);
    const error = await client('src', srcProxy.url).getManifest('team/slow', 'v1').catch((e: unknown) => e);
    expect(error).toMatchObject({ registry: 'src', repository: 'team/slow', reference: 'v1', status: 429, code: 'TOOMANYREQUESTS', retryAfterMs: 120_000 });
    expect((error as { transient: boolean }).transient).toBe(true);
  });
});

describe('one registry on both sides', () => {
  it('does not starve uploads of connections while downloads stream (no mount, tight limits)', async () => {
    const image = await pushRandomImage(`${dst.host}/team/same:v1`, { layerSizes: [200_000, 210_000, 220_000, 230_000] });
    // Refuse every mount so each blob is downloaded and uploaded through the same client.
    dstProxy.inject({ match: { method: 'POST', path: 'mount=' }, fault: { kind: 'status', status: 405 }, times: Infinity });
    const both = client('same', dstProxy.url, { limits: { concurrency: 2 }, timeouts: { bodyMs: 20_000 } });
    const result = await copyImage({
      source: { client: both, repository: 'team/same', reference: 'v1' },
      destination: { client: both, repository: 'team/same-copy', tag: 'v1' },
      blobConcurrency: 4, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
    });
    expect(result.stats.blobs).toEqual({ copied: 5, skipped: 0, mounted: 0 });
    expect((await inspectRaw(`${dst.host}/team/same-copy:v1`)).equals(image.bytes)).toBe(true);
  });
});

describe('corrupted bytes', () => {
  it('fails with a digest error and the destination never gets the blob', async () => {
    // Large enough that pieces of the body leave before the last one is found bad.
    const image = await pushRandomImage(`${src.host}/team/corrupt:v1`, { layerSizes: [30_000, 1_500_000] });
    const bad = image.layers[1]!;
    srcProxy.inject({ match: { method: 'GET', path: `/blobs/${bad.digest}` }, fault: { kind: 'corrupt' }, times: Infinity });
    const dest = client('dst', dstProxy.url);
    const error = await copyImage({
      source: { client: client('src', srcProxy.url), repository: 'team/corrupt', reference: 'v1' },
      destination: { client: dest, repository: 'mirror/corrupt', tag: 'v1' },
      blobConcurrency: 1, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error).toMatchObject({ registry: 'src', repository: 'team/corrupt', reference: bad.digest, code: 'DIGEST_MISMATCH' });
    expect(await dest.headBlob('mirror/corrupt', bad.digest)).toBeUndefined();
    expect(await dest.headManifest('mirror/corrupt', 'v1')).toBeUndefined();
    // The upload carrying the bad bytes was never completed: no PUT for it was accepted (the
    // client dropped each one; the registry may still answer 404 once the session is cancelled).
    const puts = dstProxy.requests.filter((r) => r.method === 'PUT' && r.path.includes(encodeURIComponent(bad.digest)));
    expect(puts.length).toBeGreaterThan(0);
    expect(puts.filter((r) => r.status !== 0 && r.status !== 404)).toEqual([]);
    // It was cut one chunk short of the declared length.
    for (const put of puts) expect(put.requestBytes).toBeLessThan(bad.size);
  });
});

describe('chunked uploads', () => {
  const chunkSize = 256 * 1024;

  it('resume from the registry offset after an interrupted chunk, without re-sending earlier bytes', async () => {
    const image = await pushRandomImage(`${src.host}/team/big:v1`, { layerSizes: [1_200_000] });
    const big = image.layers[0]!;
    expect(big.size).toBeGreaterThan(3 * chunkSize);
    // The second PATCH dies on the wire before reaching the registry.
    dstProxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'delay', ms: 1 }, times: 1 });
    dstProxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'reset' }, times: 1 });
    // And the fourth is refused with a 503.
    dstProxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'delay', ms: 1 }, times: 1 });
    dstProxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'status', status: 503 }, times: 1 });

    const result = await copyImage({
      source: { client: client('src', src.url), repository: 'team/big', reference: 'v1' },
      destination: {
        client: client('dst', dstProxy.url, { upload: { chunkThreshold: 512 * 1024, chunkSize } }),
        repository: 'mirror/big', tag: 'v1',
      },
      blobConcurrency: 2, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
    });
    expect(result.digest).toBe(image.digest);
    expect(dstProxy.pendingFaults()).toBe(0);

    const patches = dstProxy.requests.filter((r) => r.method === 'PATCH');
    const forwarded = patches.filter((r) => r.status === 202);
    // Every byte of the blob went to the registry exactly once.
    expect(forwarded.reduce((sum, r) => sum + r.requestBytes, 0)).toBe(big.size);
    expect(patches.filter((r) => r.fault === 'reset' || r.fault === 'status')).toHaveLength(2);
    // Offsets were read back from the upload session, not guessed.
    expect(dstProxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/') && r.status === 204)).toHaveLength(2);
    expect(dstProxy.requests.filter((r) => r.method === 'POST' && r.path.includes('/blobs/uploads/'))).toHaveLength(2); // big layer + config
    expect(result.stats.bytes).toBe(big.size + image.configs[0]!.size);
    expect((await inspectRaw(`${dst.host}/mirror/big:v1`)).equals(image.bytes)).toBe(true);
    await pullToOciDir(`${dst.host}/mirror/big:v1`);
  });

  it('start the blob over when a chunk is cut mid-body and the registry discards the session', async () => {
    // Distribution 2.x invalidates an upload whose stored size no longer matches its state
    // token, which is what a PATCH cut half-way leaves behind.
    const image = await pushRandomImage(`${src.host}/team/cut:v1`, { layerSizes: [900_000] });
    dstProxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'delay', ms: 1 }, times: 1 });
    dstProxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'cut-upload', afterBytes: 100_000 }, times: 1 });
    const result = await copyImage({
      source: { client: client('src', src.url), repository: 'team/cut', reference: 'v1' },
      destination: {
        client: client('dst', dstProxy.url, { upload: { chunkThreshold: 512 * 1024, chunkSize } }),
        repository: 'mirror/cut', tag: 'v1',
      },
      blobConcurrency: 1, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
    });
    expect(result.digest).toBe(image.digest);
    expect(digestOf(await inspectRaw(`${dst.host}/mirror/cut:v1`))).toBe(image.digest);
    await pullToOciDir(`${dst.host}/mirror/cut:v1`);
  });
});
