// The reconcile engine against real Distribution 2.8 registries and the real embedded
// (SQLite) backend: what it plans, what it enqueues, what verify reports, and that running
// the enqueued jobs (the same worker stack `ferry serve` runs) converges the destinations.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FerryConfig } from '../../shared/config/schema.js';
import { reconcilePolicy } from '../../shared/reconcile/reconcile.js';
import { createSync, syncPolicies } from '../../shared/reconcile/sync.js';
import { verifyPolicy } from '../../shared/reconcile/verify.js';
import { UnknownPolicyError } from '../../shared/reconcile/walk.js';
import type { RegistryClient } from '../../shared/registry/client.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { pushRandomImage } from '../testbed/images.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { clientFor, digestAt, jobHarness, reconcileConfig, startTagPagingProxy, tagMany, type TagPagingProxy } from './helpers.js';

let src: DistributionRegistry;
let dst: DistributionRegistry;
let dst2: DistributionRegistry;
let source: RegistryClient;
let destination: RegistryClient;
let destination2: RegistryClient;
let dataDir: string;
const harness = jobHarness(() => dataDir);
const { newBackend, clients, runJobs } = harness;

beforeAll(async () => {
  [src, dst, dst2] = (await startRegistries(3, (i) => ({ name: ['rsrc', 'rdst', 'rdst2'][i]!, logLevel: 'warn' }))) as [DistributionRegistry, DistributionRegistry, DistributionRegistry];
  source = clientFor('src', src.url);
  destination = clientFor('dst', dst.url);
  destination2 = clientFor('dst2', dst2.url);
  dataDir = await mkdtemp(join(tmpdir(), 'ferry-reconcile-'));
});

afterAll(async () => {
  await harness.cleanup();
  await Promise.allSettled([source, destination, destination2].map((c) => c?.close()));
  await stopAllRegistries();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});





describe('initial replication of images pushed before ferry existed', () => {
  let config: FerryConfig;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    const app = await pushRandomImage(`${src.host}/team/app:v1`, { layerSizes: [2048] });
    digests.v1 = app.digest;
    await tagMany(source, 'team/app', 'v1', ['v2', 'dev', 'v3-rc1']);
    digests.lib = (await pushRandomImage(`${src.host}/team/lib:v9`, { layerSizes: [1024] })).digest;
    await pushRandomImage(`${src.host}/team/scratch/tmp:v1`, { layerSizes: [512] });
    await pushRandomImage(`${src.host}/other/thing:v1`, { layerSizes: [512] });
    config = reconcileConfig({
      src: src.url, dst: dst.url, dst2: dst2.url,
      policies: [{
        name: 'team', source: 'src',
        repositories: ['team/**', '!team/scratch/**'], tags: ['v*', '!*-rc*'],
        destinations: [{ registry: 'dst' }, { registry: 'dst2', repository: 'mirror/{repository}' }],
      }],
    });
  });

  it('a dry run lists one copy per (destination, repository, tag) in scope, and changes nothing', async () => {
    const backend = newBackend();
    const result = await reconcilePolicy({ config, clients: clients(config), policy: 'team', dryRun: true, concurrency: 4 });
    expect(result).toMatchObject({ policy: 'team', dryRun: true, copy: 6, delete: 0, inSync: 0, repositories: 2, tags: 3, errorCount: 0, enqueued: [] });
    const planned = result.items!.map((i) => `${i.action} ${i.reason} ${i.source.repository}:${i.source.reference} -> ${i.destination.registry}/${i.destination.repository}`).sort();
    expect(planned).toEqual([
      'copy missing team/app:v1 -> dst/team/app',
      'copy missing team/app:v1 -> dst2/mirror/team/app',
      'copy missing team/app:v2 -> dst/team/app',
      'copy missing team/app:v2 -> dst2/mirror/team/app',
      'copy missing team/lib:v9 -> dst/team/lib',
      'copy missing team/lib:v9 -> dst2/mirror/team/lib',
    ]);
    expect(result.items!.find((i) => i.source.repository === 'team/lib')?.sourceDigest).toBe(digests.lib);
    expect((await backend.store.list({})).jobs).toEqual([]);
    expect(await digestAt(destination, 'team/app', 'v1')).toBeUndefined();
  });

  it('hands workers the first job at once, then enqueues in batches doubling up to batchSize', async () => {
    const batches: number[] = [];
    const result = await reconcilePolicy({ config, clients: clients(config), policy: 'team', deps: newBackend(), concurrency: 1, batchSize: 2, onEnqueued: (jobs) => batches.push(jobs.length) });
    expect(result.enqueued).toHaveLength(6);
    expect(batches).toEqual([1, 2, 2, 1]);
  });

  it('enqueues those copies as reconcile jobs; running them converges; a second reconcile finds everything in sync', async () => {
    const backend = newBackend();
    const before = Date.now();
    const first = await reconcilePolicy({ config, clients: clients(config), policy: 'team', deps: backend, concurrency: 4, batchSize: 4 });
    expect(first).toMatchObject({ copy: 6, delete: 0, inSync: 0, errorCount: 0 });
    expect(first.items).toBeUndefined();
    expect(first.enqueued).toHaveLength(6);
    expect(first.enqueued.every((j) => j.created)).toBe(true);
    const job = await backend.store.get(first.enqueued[0]!.id);
    expect(job).toMatchObject({ policy: 'team', status: 'queued', trigger: { kind: 'reconcile' }, source: { registry: 'src', repository: 'team/app', reference: 'v1', digest: digests.v1 } });
    expect(Date.parse((job!.trigger as { at: string }).at)).toBeGreaterThanOrEqual(before - 1000);

    const tally = await runJobs(config, backend, first);
    // A dead job names its error in the failure, not only in a count.
    expect(tally.deadJobs.map((j) => j.lastError)).toEqual([]);
    expect(tally).toMatchObject({ total: 6, succeeded: 6, dead: 0, pending: 0 });
    expect(await digestAt(destination, 'team/app', 'v2')).toBe(digests.v1);
    expect(await digestAt(destination2, 'mirror/team/lib', 'v9')).toBe(digests.lib);
    // Filtered tags and excluded repositories were left alone.
    expect(await digestAt(destination, 'team/app', 'dev')).toBeUndefined();
    expect(await digestAt(destination, 'team/app', 'v3-rc1')).toBeUndefined();
    expect(await digestAt(destination, 'team/scratch/tmp', 'v1')).toBeUndefined();
    expect(await digestAt(destination, 'other/thing', 'v1')).toBeUndefined();

    const second = await reconcilePolicy({ config, clients: clients(config), policy: 'team', deps: backend });
    expect(second).toMatchObject({ copy: 0, delete: 0, inSync: 6, enqueued: [] });
    const verified = await verifyPolicy({ config, clients: clients(config), policy: 'team' });
    expect(verified).toMatchObject({ inSync: true, differences: [], errors: [] });
    expect(verified.counts).toMatchObject({ repositories: 2, tags: 3, inSync: 6 });
  });

  it('verify reports a tag deleted by hand and a tag moved at the source; reconcile repairs both', async () => {
    const backend = newBackend();
    // lib:v9 has its own manifest: deleting it by digest (Distribution 2.8 cannot untag) removes only that tag.
    expect(await destination.deleteManifest('team/lib', digests.lib!)).toBe(true);
    const moved = await pushRandomImage(`${src.host}/team/app:v2`, { layerSizes: [1536] });

    const drift = await verifyPolicy({ config, clients: clients(config), policy: 'team' });
    expect(drift.inSync).toBe(false);
    const found = drift.differences.map((d) => `${d.kind} ${d.destination.registry}/${d.destination.repository}:${d.tag}`).sort();
    expect(found).toEqual([
      'different dst/team/app:v2',
      'different dst2/mirror/team/app:v2',
      'missing dst/team/lib:v9',
    ]);
    const different = drift.differences.find((d) => d.kind === 'different')!;
    expect(different).toMatchObject({ sourceDigest: moved.digest, destinationDigest: digests.v1 });

    const repair = await reconcilePolicy({ config, clients: clients(config), policy: 'team', deps: backend });
    expect(repair).toMatchObject({ copy: 3, delete: 0, inSync: 3 });
    expect(await runJobs(config, backend, repair)).toMatchObject({ succeeded: 3, dead: 0 });
    expect(await digestAt(destination, 'team/app', 'v2')).toBe(moved.digest);
    expect(await digestAt(destination, 'team/lib', 'v9')).toBe(digests.lib);
    expect((await verifyPolicy({ config, clients: clients(config), policy: 'team' })).inSync).toBe(true);
  });

  it('a reconcile while the previous jobs are still queued adds no duplicate jobs', async () => {
    const backend = newBackend();
    await destination.deleteManifest('team/lib', digests.lib!);
    const first = await reconcilePolicy({ config, clients: clients(config), policy: 'team', deps: backend });
    const again = await reconcilePolicy({ config, clients: clients(config), policy: 'team', deps: backend });
    expect(first.enqueued).toHaveLength(1);
    expect(again.enqueued).toEqual([{ ...first.enqueued[0]!, created: false }]);
    expect((await backend.store.list({})).jobs).toHaveLength(1);
    const summary = await syncPolicies({ config, clients: clients(config), deps: backend, policy: 'team' });
    expect(summary.policies).toEqual([expect.objectContaining({ policy: 'team', copy: 1, enqueued: 0, coalesced: 1, errorCount: 0 })]);
    expect(await runJobs(config, backend, first)).toMatchObject({ succeeded: 1 });
  });

  it('a host\'s sync joins a walk already running for the policy instead of starting another', async () => {
    const backend = newBackend();
    await destination.deleteManifest('team/lib', digests.lib!);
    const sync = createSync({ config, clients: clients(config), deps: backend });
    const [a, b] = await Promise.all([sync({ trigger: 'test-a' }), sync({ policy: 'team', trigger: 'test-b' })]);
    // One walk: one job created, reported once to both callers (a second walk would report coalesced: 1).
    expect(a).toEqual(b);
    expect(a.policies).toEqual([expect.objectContaining({ policy: 'team', copy: 1, enqueued: 1, coalesced: 0 })]);
    expect((await backend.store.list({})).jobs).toHaveLength(1);
    await expect(sync({ policy: 'nope', trigger: 'test' })).rejects.toThrow(UnknownPolicyError);
    expect(await runJobs(config, backend, await reconcilePolicy({ config, clients: clients(config), policy: 'team', deps: backend }))).toMatchObject({ succeeded: 1 });
  });

  it('names an unknown policy', async () => {
    await expect(reconcilePolicy({ config, clients: clients(config), policy: 'nope', dryRun: true })).rejects.toThrow(UnknownPolicyError);
    await expect(syncPolicies({ config, clients: clients(config), deps: newBackend(), policy: 'nope' })).rejects.toThrow(/no policy named "nope" \(configured: team\)/);
  });
});

describe('override and deletes', () => {
  let config: FerryConfig;
  let kept: string;

  beforeAll(async () => {
    const a = await pushRandomImage(`${src.host}/pol/app:v1`, { layerSizes: [700] });
    await pushRandomImage(`${dst.host}/pol/app:v1`, { layerSizes: [800] }).then((i) => (kept = i.digest));
    await tagMany(source, 'pol/app', 'v1', ['v2']);
    // At the destination only: v0 is in scope (the source no longer has it), tmp is not.
    await pushRandomImage(`${dst.host}/pol/app:v0`, { layerSizes: [900] });
    await tagMany(destination, 'pol/app', 'v0', ['tmp']);
    expect(a.digest).not.toBe(kept);
    config = reconcileConfig({
      src: src.url, dst: dst.url,
      policies: [
        { name: 'keep', source: 'src', repositories: ['pol/app'], tags: ['v*'], destinations: [{ registry: 'dst' }], override: false },
        { name: 'mirror', source: 'src', repositories: ['pol/app'], tags: ['v*'], destinations: [{ registry: 'dst' }], deletes: true },
      ],
    });
  });

  it('override: false leaves a differing tag alone and verify does not count it; extra tags are ignored without deletes', async () => {
    const result = await reconcilePolicy({ config, clients: clients(config), policy: 'keep', dryRun: true });
    expect(result).toMatchObject({ copy: 1, delete: 0, kept: 1, inSync: 0 });
    expect(result.items!.map((i) => i.source.reference)).toEqual(['v2']);
    const verified = await verifyPolicy({ config, clients: clients(config), policy: 'keep' });
    expect(verified.differences.map((d) => `${d.kind} ${d.tag}`)).toEqual(['missing v2']);
    expect(verified.counts.kept).toBe(1);
  });

  it('deletes: true plans a delete job, named by tag, for a destination tag in scope the source does not have', async () => {
    const backend = newBackend();
    const verified = await verifyPolicy({ config, clients: clients(config), policy: 'mirror' });
    expect(verified.differences.map((d) => `${d.kind} ${d.tag}`).sort()).toEqual(['different v1', 'extra v0', 'missing v2']);

    const result = await reconcilePolicy({ config, clients: clients(config), policy: 'mirror', deps: backend, collectItems: true });
    expect(result).toMatchObject({ copy: 2, delete: 1 });
    const del = result.items!.find((i) => i.action === 'delete')!;
    expect(del).toMatchObject({ reason: 'extra', source: { registry: 'src', repository: 'pol/app', reference: 'v0' }, destination: { registry: 'dst', repository: 'pol/app' } });
    const jobs = await Promise.all(result.enqueued.map((j) => backend.store.get(j.id)));
    expect(jobs.filter((j) => j!.source.reference === 'v0')).toHaveLength(1);

    const ran = await runJobs(config, backend, result);
    expect(ran.deadJobs.map((j) => j.lastError)).toEqual([]);
    expect(ran).toMatchObject({ total: 3, dead: 0, pending: 0 });
    expect(await digestAt(destination, 'pol/app', 'v0')).toBeUndefined();
    expect(await digestAt(destination, 'pol/app', 'v1')).toBe(await digestAt(source, 'pol/app', 'v1'));
    expect((await verifyPolicy({ config, clients: clients(config), policy: 'mirror' })).inSync).toBe(true);
  });
});

describe('listings are paged and streamed', () => {
  let proxy: TagPagingProxy;

  beforeAll(async () => {
    proxy = await startTagPagingProxy(src.url);
    harness.defer(() => proxy.stop());
    const base = await pushRandomImage(`${src.host}/paged/r00:t00`, { layerSizes: [300] });
    await tagMany(source, 'paged/r00', 't00', Array.from({ length: 24 }, (_, i) => `t${String(i + 1).padStart(2, '0')}`));
    // 11 more repositories sharing the blobs (mounted, no upload): 12 in the catalog's scope.
    const manifest = (await source.getManifest('paged/r00', 't00'))!;
    for (let r = 1; r <= 11; r++) {
      const repo = `paged/r${String(r).padStart(2, '0')}`;
      for (const d of [...base.layers, ...base.configs]) await source.mountBlob(repo, d.digest, 'paged/r00');
      await source.putManifest(repo, 'only', manifest);
    }
  });

  const pagedConfig = () => reconcileConfig({
    src: proxy.url, dst: dst.url,
    policies: [{ name: 'paged', source: 'src', repositories: ['paged/**'], destinations: [{ registry: 'dst' }] }],
  });

  it('pages the catalog and tags/list with n= and Link, and compares every tag', async () => {
    const config = pagedConfig();
    const progress: number[] = [];
    const result = await reconcilePolicy({ config, clients: clients(config), policy: 'paged', dryRun: true, pageSize: 10, concurrency: 3, onProgress: (p) => progress.push(p.tags) });
    expect(result).toMatchObject({ repositories: 12, tags: 25 + 11, copy: 36, errorCount: 0 });
    // 25 tags in pages of 10: three requests, the later ones continuing after the last tag seen.
    const r00 = proxy.tagRequests.filter((p) => p.startsWith('/v2/paged/r00/tags/list'));
    expect(r00).toEqual(['/v2/paged/r00/tags/list?n=10', '/v2/paged/r00/tags/list?n=10&last=t09', '/v2/paged/r00/tags/list?n=10&last=t19']);
    expect(new Set(result.items!.map((i) => `${i.source.repository}:${i.source.reference}`)).size).toBe(36);
    // Progress is reported as the walk goes, not only at the end.
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toBe(36);
  });

  it('stopped by its signal (a deadline), it still enqueues the jobs it found, then rejects', async () => {
    const config = pagedConfig();
    const backend = newBackend();
    const controller = new AbortController();
    const run = reconcilePolicy({
      config, clients: clients(config), policy: 'paged', deps: backend, pageSize: 10, concurrency: 2, batchSize: 1000, signal: controller.signal,
      onProgress: (p) => { if (p.copy >= 5) controller.abort(new Error('deadline reached')); },
    });
    await expect(run).rejects.toThrow('deadline reached');
    const jobs = (await backend.store.list({})).jobs;
    expect(jobs.length).toBeGreaterThanOrEqual(5);
    expect(jobs.length).toBeLessThan(36);
  });
});

describe('registry failures', () => {
  let faulty: FaultProxy;

  beforeAll(async () => {
    faulty = await startFaultProxy(dst.url);
    harness.defer(() => faulty.stop());
    await pushRandomImage(`${src.host}/flaky/app:a`, { layerSizes: [256] });
    await tagMany(source, 'flaky/app', 'a', ['b', 'c']);
  });

  it('a failing HEAD is reported with its context and the walk goes on', async () => {
    faulty.failWith({ method: 'HEAD', path: '/v2/flaky/app/manifests/b' }, 500, Infinity);
    const config = reconcileConfig({
      src: src.url, dst: faulty.url,
      policies: [{ name: 'flaky', source: 'src', repositories: ['flaky/app'], destinations: [{ registry: 'dst' }] }],
    });
    const backend = newBackend();
    const result = await reconcilePolicy({ config, clients: clients(config), policy: 'flaky', deps: backend });
    expect(result).toMatchObject({ copy: 2, errorCount: 1 });
    expect(result.errors[0]).toMatchObject({ operation: 'HEAD destination manifest', registry: 'dst', repository: 'flaky/app', tag: 'b', status: 500 });
    expect((await Promise.all(result.enqueued.map((j) => backend.store.get(j.id)))).map((j) => j!.source.reference).sort()).toEqual(['a', 'c']);
    const verified = await verifyPolicy({ config, clients: clients(config), policy: 'flaky' });
    expect(verified.inSync).toBe(false);
    expect(verified.errors).toHaveLength(1);
  });

  it('an unreadable source catalog fails the whole reconcile, naming the registry', async () => {
    const down = await startFaultProxy(src.url);
    harness.defer(() => down.stop());
    down.failWith({ method: 'GET', path: '/v2/_catalog' }, 401, Infinity);
    const config = reconcileConfig({
      src: down.url, dst: dst.url,
      policies: [{ name: 'all', source: 'src', repositories: ['**'], destinations: [{ registry: 'dst' }] }],
    });
    await expect(reconcilePolicy({ config, clients: clients(config), policy: 'all', dryRun: true })).rejects.toThrow(/src/);
  });
});
