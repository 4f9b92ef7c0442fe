// Tag filters (semver:, regex:, globs with excludes) and sources without a catalog, through
// the reconcile engine against real Distribution 2.8 registries; the catalog refusal is a
// real registry behind the fault proxy answering GET /v2/_catalog with 404, as Docker Hub
// and GHCR do for ferry's credentials.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcilePolicy } from '../../shared/reconcile/reconcile.js';
import { CatalogUnavailableError } from '../../shared/reconcile/scope.js';
import { verifyPolicy } from '../../shared/reconcile/verify.js';
import type { RegistryClient } from '../../shared/registry/client.js';
import { ferryCli } from '../e2e/ferry-process.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { pushRandomImage } from '../testbed/images.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { clientFor, digestAt, jobHarness, reconcileConfig, tagMany } from './helpers.js';

let src: DistributionRegistry;
let dst: DistributionRegistry;
let source: RegistryClient;
let destination: RegistryClient;
let dataDir: string;
const harness = jobHarness(() => dataDir);
const { newBackend, clients, runJobs } = harness;

beforeAll(async () => {
  [src, dst] = (await startRegistries(2, (i) => ({ name: ['fsrc', 'fdst'][i]!, logLevel: 'warn' }))) as [DistributionRegistry, DistributionRegistry];
  source = clientFor('src', src.url);
  destination = clientFor('dst', dst.url);
  dataDir = await mkdtemp(join(tmpdir(), 'ferry-filters-'));
});

afterAll(async () => {
  await harness.cleanup();
  await Promise.allSettled([source, destination].map((c) => c?.close()));
  await stopAllRegistries();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('semver: and regex: tag filters in sync', () => {
  const tags = ['v1.2.0', '1.3.0', 'v1.9.9', '2.0.0', 'v1.5.0-rc.1', '1.4', 'latest', 'nightly-20261201', 'nightly-x', 'v1.7.0-debug'];

  it('select exactly the tags they describe, and the sync copies those', async () => {
    await pushRandomImage(`${src.host}/sv/app:seed`, { layerSizes: [512] });
    const digest = await tagMany(source, 'sv/app', 'seed', tags);
    const config = reconcileConfig({
      src: src.url, dst: dst.url,
      policies: [{
        name: 'sv', source: 'src', repositories: ['regex:sv/(app|web)'],
        tags: ['semver:>=1.2.0 <2', 'regex:nightly-\\d{8}', '!semver:1.3.x'],
        destinations: [{ registry: 'dst' }],
      }],
    });
    const plan = await reconcilePolicy({ config, clients: clients(config), policy: 'sv', dryRun: true });
    expect(plan.items!.map((i) => i.source.reference).sort()).toEqual(['nightly-20261201', 'v1.2.0', 'v1.9.9']);

    const backend = newBackend();
    const run = await reconcilePolicy({ config, clients: clients(config), policy: 'sv', deps: backend });
    expect(await runJobs(config, backend, run)).toMatchObject({ succeeded: 3, dead: 0 });
    for (const tag of ['v1.2.0', 'v1.9.9', 'nightly-20261201']) expect(await digestAt(destination, 'sv/app', tag), tag).toBe(digest);
    for (const tag of ['1.3.0', '2.0.0', 'v1.5.0-rc.1', '1.4', 'latest', 'nightly-x', 'seed']) expect(await digestAt(destination, 'sv/app', tag), tag).toBeUndefined();
    expect(await verifyPolicy({ config, clients: clients(config), policy: 'sv' })).toMatchObject({ inSync: true });
  });
});

describe('a source that refuses its catalog', () => {
  let noCatalog: FaultProxy;

  beforeAll(async () => {
    noCatalog = await startFaultProxy(src.url);
    harness.defer(() => noCatalog.stop());
    noCatalog.failWith({ method: 'GET', path: '/v2/_catalog' }, 404, Infinity);
    await pushRandomImage(`${src.host}/nc/app:v1`, { layerSizes: [256] });
  });

  it('fails a wildcard policy loudly, naming the registry; it is never "in sync"', async () => {
    const config = reconcileConfig({ src: noCatalog.url, dst: dst.url, policies: [{ name: 'all', source: 'src', repositories: ['nc/**'], destinations: [{ registry: 'dst' }] }] });
    const refused = verifyPolicy({ config, clients: clients(config), policy: 'all' });
    await expect(refused).rejects.toBeInstanceOf(CatalogUnavailableError);
    await expect(refused).rejects.toThrow(/registry src does not list its repositories \(GET \/v2\/_catalog -> HTTP 404\); list the repositories literally/);
    await expect(reconcilePolicy({ config, clients: clients(config), policy: 'all', dryRun: true })).rejects.toBeInstanceOf(CatalogUnavailableError);
  });

  it('literal repository lists keep working without the catalog', async () => {
    const config = reconcileConfig({ src: noCatalog.url, dst: dst.url, policies: [{ name: 'lit', source: 'src', repositories: ['nc/app'], destinations: [{ registry: 'dst' }] }] });
    const verified = await verifyPolicy({ config, clients: clients(config), policy: 'lit' });
    expect(verified.differences.map((d) => `${d.kind} ${d.repository}:${d.tag}`)).toEqual(['missing nc/app:v1']);
    expect(noCatalog.count({ method: 'GET', path: '/v2/_catalog' })).toBe(2);
  });

  it('ferry verify and ferry sync exit 2 with one line saying what to do', async () => {
    const file = join(dataDir, 'nocatalog.yaml');
    await writeFile(file, stringify({
      dataDir: join(dataDir, 'cli'),
      registries: { src: { url: noCatalog.url, insecure: true }, dst: { url: dst.url, insecure: true } },
      policies: [{ name: 'all', source: 'src', repositories: ['**'], destinations: [{ registry: 'dst' }] }],
    }));
    for (const command of ['verify', 'sync']) {
      const result = await ferryCli([command, '--config', file]);
      expect(result.code, result.stderr).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^ferry: policy all: registry src does not list its repositories .*list the repositories literally/);
    }
  });
});
