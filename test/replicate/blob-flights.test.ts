// Single-flight of blob uploads: the coordination itself (one in-memory index standing for
// the shared one, two BlobFlights standing for two processes), then concurrent copies
// against real Distribution registries, counting what was uploaded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../shared/registry/client.js';
import { copyImage } from '../../shared/replicate/copy.js';
import { MemoryBlobIndex, type BlobIndex } from '../../shared/replicate/blob-index.js';
import { BlobFlights, type BlobSlot } from '../../shared/replicate/blob-flights.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { buildImage, pushImage, withBaseLayers, type TestImage } from '../testbed/images.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

const REG = 'https://dr.example.com';
const D = `sha256:${'a'.repeat(64)}`;

/** Settles within `ms`, or reports that it is still pending. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
}

describe('blob flights', () => {
  it('a second job of the process waits for the upload in flight, then mounts from where it landed', async () => {
    const flights = new BlobFlights(new MemoryBlobIndex());
    const first = await flights.acquire(REG, D);
    expect(first.kind).toBe('upload');
    const second = flights.acquire(REG, D);
    expect(await within(second, 100)).toBe('pending');
    await (first as Extract<BlobSlot, { kind: 'upload' }>).lease.complete('team/app01');
    expect(await second).toEqual({ kind: 'sighting', repository: 'team/app01', waited: true });
    // Everyone after knows at once, without waiting.
    expect(await flights.acquire(REG, D)).toEqual({ kind: 'sighting', repository: 'team/app01', waited: false });
  });

  it('another process (its own BlobFlights, the same index) polls the lease and mounts once the upload is recorded', async () => {
    const index = new MemoryBlobIndex();
    const a = new BlobFlights(index, { owner: 'a', pollMs: { first: 20, max: 50 } });
    const b = new BlobFlights(index, { owner: 'b', pollMs: { first: 20, max: 50 } });
    const held = await a.acquire(REG, D);
    const waiting = b.acquire(REG, D);
    expect(await within(waiting, 150)).toBe('pending');
    await (held as Extract<BlobSlot, { kind: 'upload' }>).lease.complete('team/app02');
    expect(await waiting).toEqual({ kind: 'sighting', repository: 'team/app02', waited: true });
  });

  it('a failed upload hands the lease to the next in line', async () => {
    const index = new MemoryBlobIndex();
    const a = new BlobFlights(index, { owner: 'a', pollMs: { first: 20, max: 50 } });
    const b = new BlobFlights(index, { owner: 'b', pollMs: { first: 20, max: 50 } });
    const held = await a.acquire(REG, D);
    const local = a.acquire(REG, D);
    const remote = b.acquire(REG, D);
    await (held as Extract<BlobSlot, { kind: 'upload' }>).lease.release();
    // Exactly one of them uploads now; the other keeps waiting for it, and takes over when
    // that one fails too.
    const next = await Promise.race([local, remote]);
    expect(next.kind).toBe('upload');
    const other = next === (await within(local, 0)) ? remote : local;
    expect(await within(other, 150)).toBe('pending');
    await (next as Extract<BlobSlot, { kind: 'upload' }>).lease.release();
    expect((await other).kind).toBe('upload');
  });

  it('a holder that stops renewing (crashed) loses the lease when it expires', async () => {
    const index = new MemoryBlobIndex();
    await index.claim(REG, D, 'crashed', 200);
    const b = new BlobFlights(index, { owner: 'b', pollMs: { first: 20, max: 50 } });
    const slot = await b.acquire(REG, D);
    expect(slot).toMatchObject({ kind: 'upload', waited: true });
  });

  it('the holder renews its lease while a long upload runs', async () => {
    const index = new MemoryBlobIndex();
    const a = new BlobFlights(index, { owner: 'a', leaseMs: 150 });
    const held = await a.acquire(REG, D);
    await new Promise((r) => setTimeout(r, 400));
    expect(await index.get(REG, D)).toEqual({ uploader: 'a' });
    await (held as Extract<BlobSlot, { kind: 'upload' }>).lease.release();
  });

  it('an index that fails is only a lost hint: the blob is uploaded', async () => {
    const broken: BlobIndex = {
      get: async () => { throw new Error('table unreachable'); },
      claim: async () => { throw new Error('table unreachable'); },
      record: async () => { throw new Error('table unreachable'); },
      release: async () => { throw new Error('table unreachable'); },
      forget: async () => { throw new Error('table unreachable'); },
    };
    const flights = new BlobFlights(broken);
    const slot = await flights.acquire(REG, D);
    expect(slot.kind).toBe('upload');
    if (slot.kind === 'upload') await slot.lease.complete('team/app');
    await flights.sighted(REG, D, 'team/app');
  });
});

describe('concurrent copies to one registry (real Distribution registries)', () => {
  let src: DistributionRegistry;
  let dst: DistributionRegistry;
  let proxy: FaultProxy;
  let source: RegistryClient;
  const images: TestImage[] = [];

  beforeAll(async () => {
    [src, dst] = await startRegistries(2, { name: 'flights' }) as [DistributionRegistry, DistributionRegistry];
    proxy = await startFaultProxy(dst.url);
    source = new RegistryClient({ name: 'src', url: src.url, insecure: true });
    // Four images sharing a base (the same layer files in each layout), one own layer each.
    const base = await buildImage({ layerSizes: [300_000, 200_000, 100_000] });
    for (let i = 0; i < 4; i++) {
      const image = await buildImage({ layerSizes: [50_000 + i], label: `app${i}` });
      images.push(await withBaseLayers(base, image));
      await pushImage(images[i]!, `${src.host}/team/app${i}:v1`);
      await pushImage(images[i]!, `${src.host}/team/app${i}:v2`);
    }
  }, 120_000);

  afterAll(async () => {
    await source?.close();
    await proxy?.stop();
    await stopAllRegistries();
  });

  it('8 copies at once (4 repositories x 2 tags, shared base) upload every distinct blob exactly once', async () => {
    const flights = new BlobFlights(new MemoryBlobIndex());
    const destination = new RegistryClient({ name: 'dst', url: proxy.url, insecure: true });
    try {
      const results = await Promise.all(images.flatMap((_, i) => ['v1', 'v2'].map((tag) => copyImage({
        source: { client: source, repository: `team/app${i}`, reference: tag },
        destination: { client: destination, repository: `mirror/app${i}`, tag },
        blobConcurrency: 4, override: true, blobs: flights,
      }))));
      const distinct = new Set(images.flatMap((im) => [...im.layers, ...im.configs].map((d) => d.digest)));
      const copied = results.reduce((n, r) => n + r.stats.blobs.copied, 0);
      expect(copied).toBe(distinct.size);
      // What the destination received: each distinct blob's bytes once.
      const blobBytes = [...new Map(images.flatMap((im) => [...im.layers, ...im.configs].map((d) => [d.digest, d.size] as const))).values()]
        .reduce((a, b) => a + b, 0);
      const uploaded = proxy.requests.filter((r) => (r.method === 'PUT' || r.method === 'PATCH') && r.path.includes('/blobs/uploads/'))
        .reduce((n, r) => n + r.requestBytes, 0);
      expect(uploaded).toBe(blobBytes);
    } finally {
      await destination.close();
    }
  }, 120_000);
});
