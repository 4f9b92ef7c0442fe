// A chunked upload cut short by its job's signal (deadline, shutdown) stops at a chunk
// boundary and records its session; the next attempt resumes it instead of starting over.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedBackend } from '../../shared/adapters/embedded/index.js';
import { newJob } from '../../shared/jobs/enqueue.js';
import { JobUploadSessions } from '../../shared/jobs/upload-sessions.js';
import type { Backend } from '../../shared/jobs/ports.js';
import { RegistryClient } from '../../shared/registry/client.js';
import { copyImage } from '../../shared/replicate/copy.js';
import { MemoryBlobIndex } from '../../shared/replicate/blob-index.js';
import { BlobFlights } from '../../shared/replicate/blob-flights.js';
import { MemoryUploadSessions, type UploadSession, type UploadSessions } from '../../shared/replicate/upload-sessions.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { digestOf, inspectRaw, pullToOciDir, pushRandomImage, type TestImage } from '../testbed/images.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

const CHUNK = 256 * 1024;
const LAYER = 2 * 1024 * 1024 + 12_345;

let src: DistributionRegistry;
let dst: DistributionRegistry;
let srcProxy: FaultProxy;
let dstProxy: FaultProxy;
let image: TestImage;
const clients: RegistryClient[] = [];
const dirs: string[] = [];

function clientsFor(): { source: RegistryClient; destination: RegistryClient } {
  const source = new RegistryClient({ name: 'src', url: srcProxy.url, insecure: true });
  const destination = new RegistryClient({ name: 'dst', url: dstProxy.url, insecure: true, upload: { chunkThreshold: 512 * 1024, chunkSize: CHUNK } });
  clients.push(source, destination);
  return { source, destination };
}

/** Records like `inner`, and fires `controller` once `after` chunks were acknowledged. */
function abortAfterChunks(inner: UploadSessions, after: number, controller: AbortController): UploadSessions {
  let saved = 0;
  return {
    get: (key) => inner.get(key),
    clear: (key) => inner.clear(key),
    async save(session) {
      await inner.save(session);
      if (++saved === after) controller.abort(new Error('deadline approaching'));
    },
  };
}

function copy(repository: string, uploads: UploadSessions, signal?: AbortSignal) {
  const { source, destination } = clientsFor();
  return copyImage({
    source: { client: source, repository: 'team/big', reference: 'v1' },
    destination: { client: destination, repository, tag: 'v1' },
    blobConcurrency: 1, override: true, blobs: new BlobFlights(new MemoryBlobIndex()), uploads,
    ...(signal ? { signal } : {}),
  });
}

const patchedBytes = () => dstProxy.requests.filter((r) => r.method === 'PATCH' && r.status === 202).reduce((sum, r) => sum + r.requestBytes, 0);

beforeAll(async () => {
  [src, dst] = (await startRegistries(2, { name: 'resume' })) as [DistributionRegistry, DistributionRegistry];
  srcProxy = await startFaultProxy(src.url);
  dstProxy = await startFaultProxy(dst.url);
  image = await pushRandomImage(`${src.host}/team/big:v1`, { layerSizes: [LAYER] });
}, 120_000);

afterEach(() => {
  srcProxy.reset();
  dstProxy.reset();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await srcProxy?.stop();
  await dstProxy?.stop();
  await stopAllRegistries();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('upload resume across attempts', () => {
  it('an aborted copy stops at a chunk boundary; the next attempt sends only the chunks the registry lacks', async () => {
    const layer = image.layers[0]!;
    const sessions = new MemoryUploadSessions();
    const controller = new AbortController();
    const first = await copy('mirror/resumed', abortAfterChunks(sessions, 3, controller), controller.signal).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'INTERRUPTED', registry: 'dst', repository: 'mirror/resumed', reference: layer.digest });
    // No PATCH was cut: every one the first attempt started was answered.
    expect(dstProxy.requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([202, 202, 202]);
    expect(patchedBytes()).toBe(3 * CHUNK);
    const recorded = sessions.list();
    expect(recorded).toEqual([expect.objectContaining({ destinationRegistry: 'dst', repository: 'mirror/resumed', digest: layer.digest, offset: 3 * CHUNK })]);
    expect(await inspectRaw(`${dst.host}/mirror/resumed:v1`).catch(() => undefined)).toBeUndefined();

    dstProxy.reset();
    const second = await copy('mirror/resumed', sessions);
    expect(second.digest).toBe(image.digest);
    // The registry's offset was read back, then only the rest went up: the first 3 chunks were not resent.
    expect(dstProxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/') && r.status === 204)).toHaveLength(1);
    expect(patchedBytes()).toBe(layer.size - 3 * CHUNK);
    expect(dstProxy.requests.filter((r) => r.method === 'POST' && r.path.includes('/blobs/uploads/'))).toEqual([]);
    expect(second.stats.bytes).toBe(layer.size - 3 * CHUNK);
    expect(sessions.list()).toEqual([]);
    // The registry verified the digest of the assembled blob; a pull verifies every byte again.
    expect(digestOf(await inspectRaw(`${dst.host}/mirror/resumed:v1`))).toBe(image.digest);
    await pullToOciDir(`${dst.host}/mirror/resumed:v1`);
  });

  it('a signal that fires while a chunk is on the wire lets that chunk finish, then stops', async () => {
    const sessions = new MemoryUploadSessions();
    const controller = new AbortController();
    // The second PATCH is held up in the network; the deadline fires while it is in flight.
    dstProxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'delay', ms: 1 }, times: 1 });
    dstProxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'delay', ms: 600 }, times: 1 });
    const recording: UploadSessions = {
      get: (key) => sessions.get(key),
      clear: (key) => sessions.clear(key),
      async save(session) {
        await sessions.save(session);
        if (session.offset === CHUNK) setTimeout(() => controller.abort(new Error('deadline approaching')), 100);
      },
    };
    await expect(copy('mirror/graceful', recording, controller.signal)).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(dstProxy.requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([202, 202]);
    expect(sessions.list()).toEqual([expect.objectContaining({ repository: 'mirror/graceful', offset: 2 * CHUNK })]);
  });

  it('other blobs failing on the same signal do not cut the chunk on the wire', async () => {
    const two = await pushRandomImage(`${src.host}/team/two:v1`, { layerSizes: [LAYER, 1_000_000] });
    const [first, second] = two.layers as [TestImage['layers'][number], TestImage['layers'][number]];
    const sessions = new MemoryUploadSessions();
    const controller = new AbortController();
    // The second layer's upload is still being opened when the deadline fires, and fails at once.
    dstProxy.inject({ match: { method: 'POST', path: second.digest.slice('sha256:'.length) }, fault: { kind: 'delay', ms: 2_000 }, times: 1 });
    dstProxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'delay', ms: 1 }, times: 1 });
    dstProxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'delay', ms: 600 }, times: 1 });
    const recording: UploadSessions = {
      get: (key) => sessions.get(key),
      clear: (key) => sessions.clear(key),
      async save(session) {
        await sessions.save(session);
        if (session.digest === first.digest && session.offset === CHUNK) setTimeout(() => controller.abort(new Error('deadline approaching')), 100);
      },
    };
    const { source, destination } = clientsFor();
    await expect(copyImage({
      source: { client: source, repository: 'team/two', reference: 'v1' },
      destination: { client: destination, repository: 'mirror/two', tag: 'v1' },
      blobConcurrency: 3, override: true, blobs: new BlobFlights(new MemoryBlobIndex()), uploads: recording, signal: controller.signal,
    })).rejects.toBeDefined();
    expect(dstProxy.requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([202, 202]);
    expect(await sessions.get({ destinationRegistry: 'dst', repository: 'mirror/two', digest: first.digest })).toMatchObject({ offset: 2 * CHUNK });
  });

  it('starts the blob over when the recorded session is gone', async () => {
    const layer = image.layers[0]!;
    const sessions = new MemoryUploadSessions();
    const controller = new AbortController();
    await expect(copy('mirror/expired', abortAfterChunks(sessions, 2, controller), controller.signal)).rejects.toMatchObject({ code: 'INTERRUPTED' });
    const [session] = sessions.list() as [UploadSession];
    // The registry forgets the upload (as after its upload purge).
    const { destination } = clientsFor();
    await destination.cancelUpload(session.repository, session.location);

    dstProxy.reset();
    const second = await copy('mirror/expired', sessions);
    expect(second.digest).toBe(image.digest);
    expect(patchedBytes()).toBe(layer.size);
    expect(sessions.list()).toEqual([]);
    await pullToOciDir(`${dst.host}/mirror/expired:v1`);
  });

  it('keeps the sessions on the job record, where a later attempt (another process) finds them', async () => {
    const layer = image.layers[0]!;
    const dataDir = mkdtempSync(join(tmpdir(), 'ferry-resume-'));
    dirs.push(dataDir);
    const spec = { policy: 'mirror', source: { registry: 'src', repository: 'team/big', reference: 'v1' }, destination: { registry: 'dst', repository: 'mirror/job' } };
    let backend: Backend = openEmbeddedBackend({ dataDir });
    const job = newJob(spec, { kind: 'manual', at: new Date().toISOString() }, new Date());
    await backend.store.create(job);
    await backend.store.transition(job.id, ['queued'], { status: 'running', attempts: 1 });
    const controller = new AbortController();
    await expect(copy('mirror/job', abortAfterChunks(new JobUploadSessions(backend.store, job.id), 4, controller), controller.signal))
      .rejects.toMatchObject({ code: 'INTERRUPTED' });
    await backend.close();

    backend = openEmbeddedBackend({ dataDir });
    try {
      const stored = await backend.store.get(job.id);
      expect(stored?.uploads).toEqual([expect.objectContaining({ destinationRegistry: 'dst', repository: 'mirror/job', digest: layer.digest, offset: 4 * CHUNK })]);
      dstProxy.reset();
      const second = await copy('mirror/job', new JobUploadSessions(backend.store, job.id, stored!.uploads));
      expect(second.digest).toBe(image.digest);
      expect(patchedBytes()).toBe(layer.size - 4 * CHUNK);
      expect((await backend.store.get(job.id))?.uploads).toBeUndefined();
    } finally {
      await backend.close();
    }
  });
});
