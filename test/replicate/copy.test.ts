// The copy engine against real Distribution registries, with skopeo as the reference:
// what lands at the destination must be byte-identical and pullable.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../shared/registry/client.js';
import { RegistryError } from '../../shared/registry/errors.js';
import { copyImage, SourceManifestNotFoundError } from '../../shared/replicate/copy.js';
import { MemoryBlobIndex } from '../../shared/replicate/blob-index.js';
import { BlobFlights } from '../../shared/replicate/blob-flights.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { digestOf, inspectRaw, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, pullToOciDir, pushRandomImage, pushRandomIndex } from '../testbed/images.js';

let src: DistributionRegistry;
let dst: DistributionRegistry;
let source: RegistryClient;
let destination: RegistryClient;

beforeAll(async () => {
  const started = await startRegistries(2, { name: 'copy' });
  src = started[0]!;
  dst = started[1]!;
  source = new RegistryClient({ name: 'src', url: src.url, insecure: true });
  destination = new RegistryClient({ name: 'dst', url: dst.url, insecure: true });
});

afterAll(async () => {
  await source?.close();
  await destination?.close();
  await stopAllRegistries();
});

function copy(sourceRepo: string, reference: string, destRepo: string, extra: { tag?: string; override?: boolean; blobs?: BlobFlights } = {}) {
  return copyImage({
    source: { client: source, repository: sourceRepo, reference },
    destination: { client: destination, repository: destRepo, ...(extra.tag ? { tag: extra.tag } : {}) },
    blobConcurrency: 3,
    override: extra.override ?? true,
    blobs: extra.blobs ?? new BlobFlights(new MemoryBlobIndex()),
  });
}

describe('copying an image', () => {
  it('copies a single-arch image digest-identically, and it is pullable at the destination', async () => {
    const image = await pushRandomImage(`${src.host}/team/app:v1`, { layerSizes: [5_000, 200_000, 1_000_000] });
    const progress: number[] = [];
    const result = await copyImage({
      source: { client: source, repository: 'team/app', reference: 'v1' },
      destination: { client: destination, repository: 'mirror/app', tag: 'v1' },
      blobConcurrency: 2, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
      onProgress: (p) => progress.push(p.blobs.done),
    });
    expect(result.skipped).toBeUndefined();
    expect(result.digest).toBe(image.digest);
    expect(result.mediaType).toBe(OCI_MANIFEST);
    expect(result.stats.blobs).toEqual({ copied: 4, skipped: 0, mounted: 0 });
    expect(result.stats.manifests).toBe(1);
    const blobBytes = [...image.layers, ...image.configs].reduce((sum, d) => sum + d.size, 0);
    expect(result.stats.bytes).toBe(blobBytes);
    expect(progress.at(-1)).toBe(4);
    const raw = await inspectRaw(`${dst.host}/mirror/app:v1`);
    expect(raw.equals(image.bytes)).toBe(true);
    await pullToOciDir(`${dst.host}/mirror/app:v1`);
  });

  it('copies a multi-arch index with every child by digest, digest-identical and pullable', async () => {
    const image = await pushRandomIndex(`${src.host}/team/multi:v2`, { layerSizes: [3_000, 70_000] });
    const result = await copy('team/multi', 'v2', 'mirror/multi', { tag: 'v2' });
    expect(result.digest).toBe(image.digest);
    expect(result.mediaType).toBe(OCI_INDEX);
    expect(result.stats.manifests).toBe(3);
    expect(result.stats.blobs.copied).toBe(image.layers.length + image.configs.length);
    expect((await inspectRaw(`${dst.host}/mirror/multi:v2`)).equals(image.bytes)).toBe(true);
    for (const child of image.children) {
      expect(digestOf(await inspectRaw(`${dst.host}/mirror/multi@${child.digest}`))).toBe(child.digest);
    }
    await pullToOciDir(`${dst.host}/mirror/multi:v2`);
  });

  it('copies by digest without creating a tag when no tag is asked for', async () => {
    const image = await pushRandomImage(`${src.host}/team/bydigest:v1`, { layerSizes: [2_000] });
    const result = await copy('team/bydigest', image.digest, 'mirror/bydigest');
    expect(result.digest).toBe(image.digest);
    expect(digestOf(await inspectRaw(`${dst.host}/mirror/bydigest@${image.digest}`))).toBe(image.digest);
    expect(await destination.headManifest('mirror/bydigest', 'v1')).toBeUndefined();
  });

  it('skips a digest the destination already has: an index child its index job copied (the deferred child job)', async () => {
    const image = await pushRandomIndex(`${src.host}/team/children:v1`, { layerSizes: [2_500] });
    await copy('team/children', 'v1', 'mirror/children', { tag: 'v1' });
    for (const child of image.children) {
      const again = await copy('team/children', child.digest, 'mirror/children');
      expect(again.digest).toBe(child.digest);
      expect(again.skipped).toBe(`destination dst/mirror/children already has ${child.digest}`);
      expect(again.stats.manifests).toBe(0);
      expect(again.stats.blobs).toEqual({ copied: 0, skipped: 0, mounted: 0 });
    }
  });

  it('skips an image the destination already has, and skips every blob on a copy under a new tag', async () => {
    const image = await pushRandomImage(`${src.host}/team/again:v1`, { layerSizes: [4_000, 9_000] });
    await copy('team/again', 'v1', 'mirror/again', { tag: 'v1' });

    const same = await copy('team/again', 'v1', 'mirror/again', { tag: 'v1' });
    expect(same.skipped).toMatch(/already at sha256:/);
    expect(same.stats.blobs).toEqual({ copied: 0, skipped: 0, mounted: 0 });

    const retag = await copyImage({
      source: { client: source, repository: 'team/again', reference: image.digest },
      destination: { client: destination, repository: 'mirror/again', tag: 'v1-copy' },
      blobConcurrency: 2, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
    });
    expect(retag.skipped).toBeUndefined();
    expect(retag.stats.blobs).toEqual({ copied: 0, skipped: 3, mounted: 0 });
    expect(retag.stats.bytes).toBe(0);
    expect(digestOf(await inspectRaw(`${dst.host}/mirror/again:v1-copy`))).toBe(image.digest);
  });

  it('mounts blobs into a second repository of the same destination instead of uploading them', async () => {
    const image = await pushRandomImage(`${src.host}/team/mount:v1`, { layerSizes: [6_000, 12_000] });
    const blobs = new BlobFlights(new MemoryBlobIndex());
    await copy('team/mount', 'v1', 'mirror/one', { tag: 'v1', blobs });
    const second = await copy('team/mount', 'v1', 'mirror/two', { tag: 'v1', blobs });
    expect(second.stats.blobs).toEqual({ copied: 0, skipped: 0, mounted: 3 });
    expect(second.stats.bytes).toBe(0);
    expect((await inspectRaw(`${dst.host}/mirror/two:v1`)).equals(image.bytes)).toBe(true);
    await pullToOciDir(`${dst.host}/mirror/two:v1`);
  });

  it('mounts from the source repository name at the destination when nothing is cached', async () => {
    const image = await pushRandomImage(`${src.host}/team/samename:v1`, { layerSizes: [6_000] });
    await copy('team/samename', 'v1', 'team/samename', { tag: 'v1' });
    const other = await copy('team/samename', 'v1', 'elsewhere/samename', { tag: 'v1', blobs: new BlobFlights(new MemoryBlobIndex()) });
    expect(other.stats.blobs.mounted).toBe(2);
    expect(digestOf(await inspectRaw(`${dst.host}/elsewhere/samename:v1`))).toBe(image.digest);
  });

  it('copies a blob shared by two children of an index only once', async () => {
    // Two images sharing their layers, put together in one index at the source.
    const a = await pushRandomImage(`${src.host}/team/shared:a`, { layerSizes: [50_000, 60_000] });
    const configB = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, label: 'b' }));
    const configDigest = digestOf(configB);
    await source.uploadBlob('team/shared', { digest: configDigest, size: configB.length }, Readable.from([configB]));
    const manifestB = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: configDigest, size: configB.length }, layers: a.layers,
    }));
    await source.putManifest('team/shared', digestOf(manifestB), { bytes: manifestB, mediaType: OCI_MANIFEST });
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_INDEX, manifests: [
        { mediaType: OCI_MANIFEST, digest: a.digest, size: a.bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: OCI_MANIFEST, digest: digestOf(manifestB), size: manifestB.length, platform: { os: 'linux', architecture: 'arm64' } },
      ],
    }));
    await source.putManifest('team/shared', 'both', { bytes: index, mediaType: OCI_INDEX });

    const result = await copy('team/shared', 'both', 'mirror/shared', { tag: 'both' });
    expect(result.stats.manifests).toBe(3);
    expect(result.stats.blobs).toEqual({ copied: 4, skipped: 0, mounted: 0 });
    const expectedBytes = a.layers.reduce((s, l) => s + l.size, 0) + a.configs[0]!.size + configB.length;
    expect(result.stats.bytes).toBe(expectedBytes);
    expect((await inspectRaw(`${dst.host}/mirror/shared:both`)).equals(index)).toBe(true);
    await pullToOciDir(`${dst.host}/mirror/shared:both`);
  });
});

describe('what the copy refuses or skips', () => {
  it('with override: false leaves a destination tag that points elsewhere alone', async () => {
    const first = await pushRandomImage(`${src.host}/team/pinned:v1`, { layerSizes: [1_000] });
    await copy('team/pinned', 'v1', 'mirror/pinned', { tag: 'v1' });
    const second = await pushRandomImage(`${src.host}/team/pinned:v1`, { layerSizes: [1_500] });

    const kept = await copy('team/pinned', 'v1', 'mirror/pinned', { tag: 'v1', override: false });
    expect(kept.skipped).toMatch(/override: false/);
    expect(kept.skipped).toContain(first.digest);
    expect(digestOf(await inspectRaw(`${dst.host}/mirror/pinned:v1`))).toBe(first.digest);

    const moved = await copy('team/pinned', 'v1', 'mirror/pinned', { tag: 'v1', override: true });
    expect(moved.skipped).toBeUndefined();
    expect(digestOf(await inspectRaw(`${dst.host}/mirror/pinned:v1`))).toBe(second.digest);
  });

  it('reports a reference missing at the source as a typed 404 carrying where it looked', async () => {
    const error = await copy('team/nothing', 'v9', 'mirror/nothing', { tag: 'v9' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceManifestNotFoundError);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ registry: 'src', repository: 'team/nothing', reference: 'v9', status: 404, code: 'MANIFEST_UNKNOWN' });
    expect((error as RegistryError).transient).toBe(false);
    expect((error as Error).message).toMatch(/manifest unknown at source/);
  });
});
