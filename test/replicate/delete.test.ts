// The delete path and the replicator against real Distribution 2.8 registries: jobs
// converge on what the source has now, and a delete never removes what a source tag uses.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../shared/config/schema.js';
import { classifyError } from '../../shared/jobs/classify.js';
import type { Job } from '../../shared/jobs/model.js';
import { RegistryClient } from '../../shared/registry/client.js';
import { RegistryError } from '../../shared/registry/errors.js';
import { copyImage, SourceManifestNotFoundError } from '../../shared/replicate/copy.js';
import { deleteImage } from '../../shared/replicate/delete.js';
import { MemoryBlobIndex } from '../../shared/replicate/blob-index.js';
import { BlobFlights } from '../../shared/replicate/blob-flights.js';
import { createReplicator } from '../../shared/replicate/replicator.js';
import { deleteImage as skopeoDelete, digestOf, exists, inspectRaw, pushRandomImage } from '../testbed/images.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let src: DistributionRegistry;
let dst: DistributionRegistry;
let source: RegistryClient;
let destination: RegistryClient;

beforeAll(async () => {
  const started = await startRegistries(2, { name: 'delete' });
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

async function mirror(repository: string, reference: string, tag?: string): Promise<void> {
  await copyImage({
    source: { client: source, repository, reference },
    destination: { client: destination, repository, ...(tag ? { tag } : {}) },
    blobConcurrency: 2, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
  });
}

function del(repository: string, reference: string) {
  return deleteImage({ source: { client: source, repository, reference }, destination: { client: destination, repository } });
}

describe('delete by digest', () => {
  it('deletes the manifest at the destination once the source no longer has it; absent afterwards is done', async () => {
    const image = await pushRandomImage(`${src.host}/team/gone:v1`, { layerSizes: [1_000] });
    await mirror('team/gone', 'v1', 'v1');
    await skopeoDelete(`${src.host}/team/gone@${image.digest}`);

    const result = await del('team/gone', image.digest);
    expect(result).toMatchObject({ action: 'deleted', digest: image.digest });
    expect(await destination.headManifest('team/gone', image.digest)).toBeUndefined();
    expect(await exists(`${dst.host}/team/gone:v1`)).toBe(false);

    expect(await del('team/gone', image.digest)).toMatchObject({ action: 'none', reason: expect.stringMatching(/already absent/) });
  });

  it('keeps a digest the source has (again): the job converges on the source, not on the event', async () => {
    const image = await pushRandomImage(`${src.host}/team/back:v1`, { layerSizes: [1_000] });
    await mirror('team/back', 'v1', 'v1');
    const result = await del('team/back', image.digest);
    expect(result).toMatchObject({ action: 'skipped', reason: expect.stringMatching(/still has/) });
    expect(digestOf(await inspectRaw(`${dst.host}/team/back:v1`))).toBe(image.digest);
  });
});

describe('delete by tag on Distribution 2.8 (which cannot untag)', () => {
  it('skips when another source tag still points at the digest the destination tag names', async () => {
    const image = await pushRandomImage(`${src.host}/team/shared-tag:v2`, { layerSizes: [1_000] });
    // The destination has the image as v1; the source only as v2 (v1 is gone there).
    await copyImage({
      source: { client: source, repository: 'team/shared-tag', reference: 'v2' },
      destination: { client: destination, repository: 'team/shared-tag', tag: 'v1' },
      blobConcurrency: 2, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
    });
    const result = await del('team/shared-tag', 'v1');
    expect(result.action).toBe('skipped');
    expect(result.reason).toMatch(/cannot delete tag v1 alone/);
    expect(result.reason).toContain('team/shared-tag:v2');
    expect(result.digest).toBe(image.digest);
    expect(digestOf(await inspectRaw(`${dst.host}/team/shared-tag:v1`))).toBe(image.digest);
  });

  it('deletes the digest when no source tag points at it any more', async () => {
    const image = await pushRandomImage(`${src.host}/team/untag:v3`, { layerSizes: [1_000] });
    const other = await pushRandomImage(`${src.host}/team/untag:keep`, { layerSizes: [1_200] });
    await mirror('team/untag', 'v3', 'v3');
    await skopeoDelete(`${src.host}/team/untag@${image.digest}`);

    const result = await del('team/untag', 'v3');
    expect(result).toMatchObject({ action: 'deleted', digest: image.digest, reason: expect.stringMatching(/cannot untag/) });
    expect(await destination.headManifest('team/untag', 'v3')).toBeUndefined();
    expect(await destination.headManifest('team/untag', image.digest)).toBeUndefined();
    // Untouched: the other tag at the source.
    expect(digestOf(await inspectRaw(`${src.host}/team/untag:keep`))).toBe(other.digest);
  });

  it('deletes when the source no longer has the repository at all (404 NAME_UNKNOWN, as Harbor/ECR after a repository delete)', async () => {
    const image = await pushRandomImage(`${src.host}/team/vanished:v1`, { layerSizes: [1_000] });
    await mirror('team/vanished', 'v1', 'v1');
    await rm(join(src.dataDir, 'docker', 'registry', 'v2', 'repositories', 'team', 'vanished'), { recursive: true });
    const tags = await fetch(`${src.url}/v2/team/vanished/tags/list`);
    expect(await tags.text()).toContain('NAME_UNKNOWN');

    expect(await del('team/vanished', 'v1')).toMatchObject({ action: 'deleted', digest: image.digest });
    expect(await destination.headManifest('team/vanished', 'v1')).toBeUndefined();
    expect(await del('team/vanished', image.digest)).toMatchObject({ action: 'none' });
  });

  it('does nothing when the destination tag is already gone', async () => {
    expect(await del('team/never', 'v1')).toMatchObject({ action: 'none' });
  });
});

describe('replicator', () => {
  const config = () => configSchema.parse({
    registries: {
      src: { url: src.url, insecure: true },
      dst: { url: dst.url, insecure: true },
    },
    policies: [
      { name: 'mirror', source: 'src', destinations: [{ registry: 'dst', repository: 'mirror/{repository}' }], deletes: true },
      { name: 'push-only', source: 'src', destinations: [{ registry: 'dst', repository: 'mirror/{repository}' }] },
    ],
    worker: { blobConcurrency: 2 },
  });

  function job(policy: string, repository: string, reference: string): Job {
    const at = new Date().toISOString();
    return {
      id: `job-${Math.random().toString(36).slice(2)}`,
      key: `${policy}|dst|mirror/${repository}|${reference}`,
      policy,
      source: { registry: 'src', repository, reference },
      destination: { registry: 'dst', repository: `mirror/${repository}` },
      trigger: { kind: 'manual', at },
      status: 'running',
      attempts: 1,
      createdAt: at,
      updatedAt: at,
    };
  }

  it('copies what the source has now, then skips on a re-run, then deletes once the source drops it', async () => {
    const clients = new Map([['src', source], ['dst', destination]]);
    const replicate = createReplicator({ config: config(), clients });
    const image = await pushRandomImage(`${src.host}/app/web:1.0`, { layerSizes: [2_000, 3_000] });

    const copied = await replicate(job('mirror', 'app/web', '1.0'), {});
    expect(copied).toMatchObject({ action: 'copied', digest: image.digest });
    expect(copied.stats.blobs.copied).toBe(3);
    expect((await inspectRaw(`${dst.host}/mirror/app/web:1.0`)).equals(image.bytes)).toBe(true);

    const again = await replicate(job('mirror', 'app/web', '1.0'), {});
    expect(again).toMatchObject({ action: 'skipped', digest: image.digest, reason: expect.stringMatching(/already at/) });

    await skopeoDelete(`${src.host}/app/web@${image.digest}`);
    const deleted = await replicate(job('mirror', 'app/web', '1.0'), {});
    expect(deleted).toMatchObject({ action: 'deleted', digest: image.digest });
    expect(await exists(`${dst.host}/mirror/app/web:1.0`)).toBe(false);
  });

  it('an old push event replayed after a newer push converges on the newer image', async () => {
    const clients = new Map([['src', source], ['dst', destination]]);
    const replicate = createReplicator({ config: config(), clients });
    const first = await pushRandomImage(`${src.host}/app/api:latest`, { layerSizes: [1_000] });
    await replicate(job('mirror', 'app/api', 'latest'), {});
    const newer = await pushRandomImage(`${src.host}/app/api:latest`, { layerSizes: [1_100] });
    const replayed = { ...job('mirror', 'app/api', 'latest'), source: { registry: 'src', repository: 'app/api', reference: 'latest', digest: first.digest } };
    expect(await replicate(replayed, {})).toMatchObject({ action: 'copied', digest: newer.digest });
    expect(digestOf(await inspectRaw(`${dst.host}/mirror/app/api:latest`))).toBe(newer.digest);
  });

  it('fails permanently with "manifest unknown at source" for a push-only policy', async () => {
    const clients = new Map([['src', source], ['dst', destination]]);
    const replicate = createReplicator({ config: config(), clients });
    const error = await replicate(job('push-only', 'app/missing', 'v1'), {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceManifestNotFoundError);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ status: 404, code: 'MANIFEST_UNKNOWN', registry: 'src', repository: 'app/missing', reference: 'v1' });
    expect((error as RegistryError).transient).toBe(false);
    expect(classifyError(error).error).toMatchObject({ status: 404, code: 'MANIFEST_UNKNOWN', transient: false });
    expect((error as Error).message).toMatch(/manifest unknown at source/);
  });

  it('rejects a job whose policy or registry is not configured', async () => {
    const replicate = createReplicator({ config: config(), clients: new Map([['src', source]]) });
    const missingPolicy = await replicate(job('nope', 'app/x', 'v1'), {}).catch((e: unknown) => e);
    expect((missingPolicy as Error).message).toMatch(/policy "nope" is not configured/);
    expect(classifyError(missingPolicy).error.transient).toBe(false);
    await expect(replicate(job('mirror', 'app/x', 'v1'), {})).rejects.toThrow(/registry "dst" is not configured/);
  });
});

