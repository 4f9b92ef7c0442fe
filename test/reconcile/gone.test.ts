// A repository removed entirely at the source: Harbor and ECR drop it from their catalog,
// so the source walk never sees it. With deletes: true, reconcile finds its replicas through
// the destination catalog and the inverted destination template, verify reports them as
// extra, and the delete jobs remove them. Real Distribution 2.8 registries; the repository is
// made to vanish the way Harbor/ECR show it, by removing its directory from the storage.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FerryConfig } from '../../shared/config/schema.js';
import { reconcilePolicy } from '../../shared/reconcile/reconcile.js';
import { verifyPolicy } from '../../shared/reconcile/verify.js';
import type { RegistryClient } from '../../shared/registry/client.js';
import { startFaultProxy } from '../testbed/fault-proxy.js';
import { pushRandomImage, type TestImage } from '../testbed/images.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { clientFor, digestAt, jobHarness, reconcileConfig } from './helpers.js';

let src: DistributionRegistry;
let dst: DistributionRegistry;
let source: RegistryClient;
let destination: RegistryClient;
let dataDir: string;
const harness = jobHarness(() => dataDir);
const { newBackend, clients, runJobs } = harness;
const images: Record<string, TestImage> = {};

const policies = [
  { name: 'mirror', source: 'src', repositories: ['team/**'], tags: ['v*'], destinations: [{ registry: 'dst', repository: 'mirror/{repository}' }], deletes: true },
  { name: 'push-only', source: 'src', repositories: ['team/**'], tags: ['v*'], destinations: [{ registry: 'dst', repository: 'mirror/{repository}' }] },
  // Loses the namespace: destination repositories cannot be mapped back, so they are left alone.
  { name: 'flat', source: 'src', repositories: ['team/**'], tags: ['v*'], destinations: [{ registry: 'dst', repository: 'flat/{name}' }], deletes: true },
];
let config: FerryConfig;

beforeAll(async () => {
  [src, dst] = (await startRegistries(2, (i) => ({ name: ['gsrc', 'gdst'][i]!, logLevel: 'warn' }))) as [DistributionRegistry, DistributionRegistry];
  source = clientFor('src', src.url);
  destination = clientFor('dst', dst.url);
  dataDir = await mkdtemp(join(tmpdir(), 'ferry-gone-'));
  images.v1 = await pushRandomImage(`${src.host}/team/gone:v1`, { layerSizes: [700] });
  images.v2 = await pushRandomImage(`${src.host}/team/gone:v2`, { layerSizes: [800] });
  images.stay = await pushRandomImage(`${src.host}/team/stay:v1`, { layerSizes: [600] });
  config = reconcileConfig({ src: src.url, dst: dst.url, policies });
});

afterAll(async () => {
  await harness.cleanup();
  await Promise.allSettled([source, destination].map((c) => c?.close()));
  await stopAllRegistries();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});





async function catalogOf(client: RegistryClient): Promise<string[]> {
  const names: string[] = [];
  for await (const name of client.catalog()) names.push(name);
  return names.sort();
}

describe('a repository removed entirely at the source', () => {
  beforeAll(async () => {
    for (const policy of ['mirror', 'flat']) {
      const backend = newBackend();
      const result = await reconcilePolicy({ config, clients: clients(config), policy, deps: backend });
      expect(result).toMatchObject({ copy: 3, delete: 0, errorCount: 0 });
      expect(await runJobs(config, backend, result)).toMatchObject({ succeeded: 3, dead: 0 });
    }
    expect(await digestAt(destination, 'mirror/team/gone', 'v2')).toBe(images.v2!.digest);
    expect(await digestAt(destination, 'flat/gone', 'v1')).toBe(images.v1!.digest);
    expect((await verifyPolicy({ config, clients: clients(config), policy: 'mirror' })).inSync).toBe(true);

    // Gone the way Harbor and ECR show it: not in the catalog, tags/list answers 404 NAME_UNKNOWN.
    const repositories = join(src.dataDir, 'docker', 'registry', 'v2', 'repositories');
    expect(await readdir(join(repositories, 'team'))).toEqual(expect.arrayContaining(['gone', 'stay']));
    await rm(join(repositories, 'team', 'gone'), { recursive: true });
    expect(await catalogOf(source)).toEqual(['team/stay']);
    const tags = await fetch(`${src.url}/v2/team/gone/tags/list`);
    expect(tags.status).toBe(404);
    expect(await tags.text()).toContain('NAME_UNKNOWN');
  });

  it('verify reports its destination tags as extra, named by the source repository', async () => {
    const verified = await verifyPolicy({ config, clients: clients(config), policy: 'mirror' });
    expect(verified.inSync).toBe(false);
    expect(verified.errors).toEqual([]);
    expect(verified.differences.sort((a, b) => a.tag.localeCompare(b.tag))).toEqual([
      { kind: 'extra', destination: { registry: 'dst', repository: 'mirror/team/gone' }, repository: 'team/gone', tag: 'v1' },
      { kind: 'extra', destination: { registry: 'dst', repository: 'mirror/team/gone' }, repository: 'team/gone', tag: 'v2' },
    ]);
    expect(verified.counts).toMatchObject({ repositories: 1, tags: 1, inSync: 1, extra: 2, errors: 0 });
  });

  it('without deletes nothing is reported; a template that cannot be inverted leaves its replicas alone', async () => {
    const pushOnly = await verifyPolicy({ config, clients: clients(config), policy: 'push-only' });
    expect(pushOnly).toMatchObject({ inSync: true, differences: [], errors: [] });
    const plan = await reconcilePolicy({ config, clients: clients(config), policy: 'push-only', dryRun: true });
    expect(plan).toMatchObject({ copy: 0, delete: 0, inSync: 1, errorCount: 0 });

    const flat = await verifyPolicy({ config, clients: clients(config), policy: 'flat' });
    expect(flat).toMatchObject({ inSync: true, differences: [], errors: [] });
    const flatPlan = await reconcilePolicy({ config, clients: clients(config), policy: 'flat', dryRun: true });
    expect(flatPlan).toMatchObject({ copy: 0, delete: 0, errorCount: 0 });
  });

  it('a source that fails to answer for the repository gives an issue, not a delete', async () => {
    const proxy = await startFaultProxy(src.url);
    harness.defer(() => proxy.stop());
    proxy.failWith({ method: 'GET', path: '/v2/team/gone/tags/list' }, 500, Infinity);
    const c = reconcileConfig({ src: proxy.url, dst: dst.url, policies });
    const plan = await reconcilePolicy({ config: c, clients: clients(c), policy: 'mirror', dryRun: true });
    expect(plan).toMatchObject({ copy: 0, delete: 0, inSync: 1, errorCount: 1 });
    expect(plan.errors[0]).toMatchObject({ operation: 'list source tags', registry: 'src', repository: 'team/gone', destination: { registry: 'dst', repository: 'mirror/team/gone' }, status: 500 });
  });

  it.each([401, 403])('a destination that does not offer its catalog (%i) is no drift: removed repositories are not looked for there', async (status) => {
    const proxy = await startFaultProxy(dst.url);
    harness.defer(() => proxy.stop());
    proxy.failWith({ method: 'GET', path: '/v2/_catalog' }, status, Infinity);
    const c = reconcileConfig({ src: src.url, dst: proxy.url, policies });
    const verified = await verifyPolicy({ config: c, clients: clients(c), policy: 'mirror' });
    expect(verified.inSync).toBe(true);
    expect(verified.errors).toEqual([]);
    expect(verified.counts).toMatchObject({ inSync: 1, errors: 0 });
  });

  it('a destination catalog that fails (503) gives one issue; the rest of the walk goes on', async () => {
    const proxy = await startFaultProxy(dst.url);
    harness.defer(() => proxy.stop());
    proxy.failWith({ method: 'GET', path: '/v2/_catalog' }, 503, Infinity);
    const c = reconcileConfig({ src: src.url, dst: proxy.url, policies });
    const verified = await verifyPolicy({ config: c, clients: clients(c), policy: 'mirror' });
    expect(verified.inSync).toBe(false);
    expect(verified.differences).toEqual([]);
    expect(verified.counts).toMatchObject({ inSync: 1, errors: 1 });
    expect(verified.errors).toEqual([expect.objectContaining({ operation: 'list destination catalog', registry: 'dst', status: 503 })]);
  });

  it('sync enqueues delete jobs that remove them at the destination, against a source without the repository', async () => {
    const backend = newBackend();
    const result = await reconcilePolicy({ config, clients: clients(config), policy: 'mirror', deps: backend, collectItems: true });
    expect(result).toMatchObject({ copy: 0, delete: 2, inSync: 1, errorCount: 0 });
    expect(result.items!.map((i) => `${i.action} ${i.reason} ${i.source.registry}/${i.source.repository}:${i.source.reference} -> ${i.destination.registry}/${i.destination.repository}`).sort()).toEqual([
      'delete extra src/team/gone:v1 -> dst/mirror/team/gone',
      'delete extra src/team/gone:v2 -> dst/mirror/team/gone',
    ]);
    const ran = await runJobs(config, backend, result);
    expect(ran.deadJobs.map((j) => j.lastError)).toEqual([]);
    expect(ran).toMatchObject({ total: 2, succeeded: 2, dead: 0, pending: 0 });
    expect(await digestAt(destination, 'mirror/team/gone', 'v1')).toBeUndefined();
    expect(await digestAt(destination, 'mirror/team/gone', 'v2')).toBeUndefined();
    expect(await digestAt(destination, 'mirror/team/gone', images.v1!.digest)).toBeUndefined();
    // Untouched: the repository the source still has, and the replicas "flat/{name}" cannot map back.
    expect(await digestAt(destination, 'mirror/team/stay', 'v1')).toBe(images.stay!.digest);
    expect(await digestAt(destination, 'flat/gone', 'v1')).toBe(images.v1!.digest);
    expect(await digestAt(destination, 'flat/gone', 'v2')).toBe(images.v2!.digest);

    expect(await verifyPolicy({ config, clients: clients(config), policy: 'mirror' })).toMatchObject({ inSync: true, differences: [], errors: [] });
    const again = await reconcilePolicy({ config, clients: clients(config), policy: 'mirror', deps: backend });
    expect(again).toMatchObject({ copy: 0, delete: 0, enqueued: [] });
  });
});
