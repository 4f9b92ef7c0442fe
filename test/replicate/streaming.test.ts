// Blobs stream from source to destination: copying a blob much larger than the memory the
// copy may use shows no whole-blob buffering, monolithic or chunked.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../shared/registry/client.js';
import { copyImage } from '../../shared/replicate/copy.js';
import { MemoryBlobIndex } from '../../shared/replicate/blob-index.js';
import { BlobFlights } from '../../shared/replicate/blob-flights.js';
import { digestOf, inspectRaw, pushRandomImage, type TestImage } from '../testbed/images.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

const LAYER = 48 * 1024 * 1024;
let src: DistributionRegistry;
let dst: DistributionRegistry;
let image: TestImage;
const clients: RegistryClient[] = [];

beforeAll(async () => {
  const started = await startRegistries(2, { name: 'stream' });
  src = started[0]!;
  dst = started[1]!;
  image = await pushRandomImage(`${src.host}/big/blob:v1`, { layerSizes: [LAYER] });
}, 180_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stopAllRegistries();
});

// Garbage (chunks already sent) is not retention: collect before every sample.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Peak growth of live Buffer memory while `work` runs, sampled every few milliseconds. */
async function peakBufferGrowth(work: () => Promise<unknown>): Promise<number> {
  gc();
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0;
  const timer = setInterval(() => {
    gc();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
  }, 10);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return peak;
}

describe('memory', () => {
  it.each([
    ['monolithic', undefined, 8 * 1024 * 1024],
    // Chunks are slices of the stream, not buffers: a chunked upload holds no more than a monolithic one.
    ['chunked', { chunkThreshold: 8 * 1024 * 1024, chunkSize: 4 * 1024 * 1024 }, 8 * 1024 * 1024],
  ] as const)('copies a %s 48 MiB blob holding far less than the blob in memory', async (mode, upload, budget) => {
    expect(image.layers[0]!.size).toBeGreaterThan(LAYER);
    const source = new RegistryClient({ name: 'src', url: src.url, insecure: true });
    const destination = new RegistryClient({ name: 'dst', url: dst.url, insecure: true, ...(upload ? { upload } : {}) });
    clients.push(source, destination);
    const growth = await peakBufferGrowth(() => copyImage({
      source: { client: source, repository: 'big/blob', reference: 'v1' },
      destination: { client: destination, repository: `mirror/${mode}`, tag: 'v1' },
      blobConcurrency: 2, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
    }));
    expect(digestOf(await inspectRaw(`${dst.host}/mirror/${mode}:v1`))).toBe(image.digest);
    expect(growth).toBeLessThan(budget);
  });
});
