// `ferry sync` and `ferry verify` as users run them: the built CLI as a child process,
// real Distribution registries, the embedded backend, no `ferry serve` running.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Job } from '../../shared/jobs/model.js';
import type { RegistryClient } from '../../shared/registry/client.js';
import type { SyncJson } from '../../infra/local/commands/sync.js';
import type { VerifyJson } from '../../infra/local/commands/verify.js';
import { freePort } from '../../infra/local/demo/distribution.js';
import { ferryCli, type CliResult } from '../e2e/ferry-process.js';
import { inspectRaw, pullToOciDir, pushRandomImage, pushRandomIndex, type TestImage } from '../testbed/images.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { clientFor, tagMany } from './helpers.js';

let src: DistributionRegistry;
let dst: DistributionRegistry;
let source: RegistryClient;
let destination: RegistryClient;
let dir: string;
let configPath: string;
let dataDir: string;
const images: Record<string, TestImage> = {};

function writeConfig(path: string, policies: unknown[], registries: Record<string, unknown> = {}): Promise<void> {
  return writeFile(path, stringify({
    backend: 'embedded',
    dataDir,
    registries: {
      src: { url: src.url, insecure: true, webhook: { allowUnauthenticated: true } },
      dst: { url: dst.url, insecure: true },
      ...registries,
    },
    policies,
    worker: { concurrency: 2, retryDelay: '200ms', maxAttempts: 2 },
  }));
}

const cli = (args: string[], config = configPath): Promise<CliResult> => ferryCli([...args, '--config', config], { timeoutMs: 120_000 });

function json<T>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

beforeAll(async () => {
  [src, dst] = (await startRegistries(2, (i) => ({ name: ['csrc', 'cdst'][i]!, logLevel: 'warn' }))) as [DistributionRegistry, DistributionRegistry];
  source = clientFor('src', src.url);
  destination = clientFor('dst', dst.url);
  dir = await mkdtemp(join(tmpdir(), 'ferry-sync-cli-'));
  dataDir = join(dir, 'data');
  configPath = join(dir, 'ferry.yaml');
  // Pushed before ferry ever ran: no events, only a reconcile can find them.
  images.web = await pushRandomImage(`${src.host}/shop/web:v1`, { layerSizes: [4096, 2048] });
  await tagMany(source, 'shop/web', 'v1', ['v1.1', 'latest']);
  images.api = await pushRandomIndex(`${src.host}/shop/api:v2`, { layerSizes: [2048] });
  images.db = await pushRandomImage(`${src.host}/shop/db:v5`, { layerSizes: [1024] });
  await writeConfig(configPath, [
    { name: 'shop', source: 'src', repositories: ['shop/**'], tags: ['v*', 'latest'], destinations: [{ registry: 'dst', repository: 'mirror/{repository}' }] },
  ]);
});

afterAll(async () => {
  await Promise.allSettled([source?.close(), destination?.close()]);
  await stopAllRegistries();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ferry sync and ferry verify', () => {
  it('--dry-run prints the plan and changes nothing (no job state is even created)', async () => {
    const human = await cli(['sync', '--dry-run']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('policy shop: 3 repositories, 5 tags: 5 to copy, 0 to delete, 0 in sync');
    expect(human.stdout).toMatch(/copy\s+missing\s+src\/shop\/api:v2\s+dst\/mirror\/shop\/api:v2\s+sha256:[0-9a-f]{12}/);

    const r = await cli(['sync', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const plan = json<SyncJson>(r);
    expect(plan.dryRun).toBe(true);
    expect(plan.policies).toEqual([expect.objectContaining({ policy: 'shop', copy: 5, delete: 0, inSync: 0, enqueued: 0 })]);
    expect(plan.policies[0]!.items!.map((i) => `${i.source.repository}:${i.source.reference}`).sort())
      .toEqual(['shop/api:v2', 'shop/db:v5', 'shop/web:latest', 'shop/web:v1', 'shop/web:v1.1']);
    expect(existsSync(dataDir)).toBe(false);
    expect(await destination.headManifest('mirror/shop/web', 'v1')).toBeUndefined();
  });

  it('verify exits 1 and lists what the destination is missing', async () => {
    const r = await cli(['verify']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('policy shop: 5 differences (5 missing, 0 different, 0 extra; 0 in sync)');
    expect(r.stdout).toMatch(/shop\s+missing\s+dst\/mirror\/shop\/db:v5\s+shop\/db/);
  });

  it('sync --wait replicates images pushed before ferry started, digest-identical, and exits 0', async () => {
    const r = await cli(['sync', '--wait', '--json']);
    // (stderr may carry worker log lines: a transient failure retried is not an error.)
    expect(r.stderr).not.toMatch(/^ferry:/m);
    expect(r.code).toBe(0);
    const out = json<SyncJson>(r);
    expect(out.policies).toEqual([expect.objectContaining({ policy: 'shop', copy: 5, enqueued: 5, errorCount: 0 })]);
    expect(out.jobs).toEqual({ total: 5, succeeded: 5, skipped: 0, dead: 0, deadJobs: [] });
    expect((await inspectRaw(`${dst.host}/mirror/shop/web:latest`)).equals(images.web!.bytes)).toBe(true);
    expect((await inspectRaw(`${dst.host}/mirror/shop/api:v2`)).equals(images.api!.bytes)).toBe(true);
    await pullToOciDir(`${dst.host}/mirror/shop/api:v2`);

    const verified = await cli(['verify', '--json']);
    expect(verified.code).toBe(0);
    expect(json<VerifyJson>(verified)).toMatchObject({ inSync: true, policies: [{ policy: 'shop', inSync: true, differences: [], counts: { tags: 5, inSync: 5 } }] });
    const human = await cli(['verify']);
    expect(human.code).toBe(0);
    expect(human.stdout).toBe('policy shop: in sync (3 repositories, 5 tags)\n');
  });

  it('a tag deleted by hand at the destination is reported by verify and repaired by the next sync', async () => {
    // Distribution 2.8 cannot untag: delete the manifest by digest (db:v5 is its only tag).
    expect(await destination.deleteManifest('mirror/shop/db', images.db!.digest)).toBe(true);
    const drift = await cli(['verify', '--json']);
    expect(drift.code).toBe(1);
    expect(json<VerifyJson>(drift).policies[0]!.differences).toEqual([
      { kind: 'missing', destination: { registry: 'dst', repository: 'mirror/shop/db' }, repository: 'shop/db', tag: 'v5', sourceDigest: images.db!.digest },
    ]);

    const repair = await cli(['sync', '--wait']);
    expect(repair.code).toBe(0);
    expect(repair.stdout).toContain('policy shop: 3 repositories, 5 tags: 1 to copy, 0 to delete, 4 in sync');
    expect(repair.stdout).toContain('jobs: 1 total, 1 succeeded, 0 skipped, 0 dead');
    expect((await cli(['verify'])).code).toBe(0);
    expect((await inspectRaw(`${dst.host}/mirror/shop/db:v5`)).equals(images.db!.bytes)).toBe(true);
  });

  it('sync without --wait leaves the jobs queued for ferry serve, visible to ferry jobs', async () => {
    await destination.deleteManifest('mirror/shop/db', images.db!.digest);
    const r = await cli(['sync', '--policy', 'shop', '--json']);
    expect(r.code).toBe(0);
    expect(json<SyncJson>(r).policies[0]).toMatchObject({ copy: 1, enqueued: 1 });
    const jobs = json<{ jobs: Job[] }>(await cli(['jobs', '--status', 'queued', '--json']));
    expect(jobs.jobs).toEqual([expect.objectContaining({ policy: 'shop', trigger: expect.objectContaining({ kind: 'reconcile' }), source: expect.objectContaining({ repository: 'shop/db', reference: 'v5' }) })]);
    // --wait's in-process workers take the queued job as well (they start before the walk,
    // so depending on timing the walk finds the tag repaired, or queues a second job for it
    // that converges to "skipped"): either way nothing is left queued and all is in sync.
    const waited = await cli(['sync', '--wait', '--json']);
    expect(waited.code).toBe(0);
    expect(json<SyncJson>(waited).jobs).toMatchObject({ dead: 0 });
    expect(json<{ jobs: Job[] }>(await cli(['jobs', '--status', 'queued', '--json'])).jobs).toEqual([]);
    expect(json<{ jobs: Job[] }>(await cli(['jobs', '--json'])).jobs.find((j) => j.id === jobs.jobs[0]!.id)).toMatchObject({ status: 'succeeded' });
    expect((await cli(['verify'])).code).toBe(0);
  });

  it('deletes: true: a tag only the destination has gets a delete job (named by the tag), and --wait removes it', async () => {
    const path = join(dir, 'deletes.yaml');
    await writeConfig(path, [
      { name: 'prune', source: 'src', repositories: ['shop/web'], tags: ['v*'], destinations: [{ registry: 'dst', repository: 'mirror/{repository}' }], deletes: true },
    ]);
    const stale = await pushRandomImage(`${dst.host}/mirror/shop/web:v0-old`, { layerSizes: [512] });
    const plan = json<SyncJson>(await cli(['sync', '--dry-run', '--json'], path));
    expect(plan.policies[0]).toMatchObject({ copy: 0, delete: 1, inSync: 2 });
    expect(plan.policies[0]!.items).toEqual([{
      action: 'delete', reason: 'extra',
      source: { registry: 'src', repository: 'shop/web', reference: 'v0-old' },
      destination: { registry: 'dst', repository: 'mirror/shop/web' },
    }]);
    const verify = await cli(['verify', '--json'], path);
    expect(verify.code).toBe(1);
    expect(json<VerifyJson>(verify).policies[0]!.differences).toEqual([expect.objectContaining({ kind: 'extra', tag: 'v0-old' })]);

    const r = await cli(['sync', '--wait', '--json'], path);
    expect(r.code).toBe(0);
    expect(json<SyncJson>(r).jobs).toMatchObject({ total: 1, succeeded: 1, dead: 0 });
    expect(await destination.headManifest('mirror/shop/web', 'v0-old')).toBeUndefined();
    expect(await destination.headManifest('mirror/shop/web', stale.digest)).toBeUndefined();
    expect((await cli(['verify'], path)).code).toBe(0);
  });

  it('deletes: true: a repository removed entirely at the source (gone from its catalog) is drift, and sync --wait removes its replicas', async () => {
    const path = join(dir, 'gone.yaml');
    await writeConfig(path, [
      { name: 'gone', source: 'src', repositories: ['team/**'], tags: ['v*'], destinations: [{ registry: 'dst', repository: 'mirror/{repository}' }], deletes: true },
    ]);
    const a = await pushRandomImage(`${src.host}/team/gone:v1`, { layerSizes: [512] });
    const b = await pushRandomImage(`${src.host}/team/gone:v2`, { layerSizes: [640] });
    await pushRandomImage(`${src.host}/team/stay:v1`, { layerSizes: [256] });
    expect((await cli(['sync', '--wait'], path)).code).toBe(0);
    expect((await destination.headManifest('mirror/team/gone', 'v2'))?.digest).toBe(b.digest);
    // Gone the way Harbor and ECR show it: out of the catalog, tags/list answers 404 NAME_UNKNOWN.
    await rm(join(src.dataDir, 'docker', 'registry', 'v2', 'repositories', 'team', 'gone'), { recursive: true });

    const drift = await cli(['verify', '--json'], path);
    expect(drift.code).toBe(1);
    expect(json<VerifyJson>(drift).policies[0]!.differences.map((d) => `${d.kind} ${d.repository}:${d.tag} ${d.destination.registry}/${d.destination.repository}`).sort())
      .toEqual(['extra team/gone:v1 dst/mirror/team/gone', 'extra team/gone:v2 dst/mirror/team/gone']);

    const r = await cli(['sync', '--wait', '--json'], path);
    expect(r.code).toBe(0);
    expect(json<SyncJson>(r).policies[0]).toMatchObject({ copy: 0, delete: 2, inSync: 1, errorCount: 0 });
    expect(json<SyncJson>(r).jobs).toMatchObject({ total: 2, succeeded: 2, dead: 0 });
    expect(await destination.headManifest('mirror/team/gone', 'v1')).toBeUndefined();
    expect(await destination.headManifest('mirror/team/gone', a.digest)).toBeUndefined();
    expect(await destination.headManifest('mirror/team/gone', 'v2')).toBeUndefined();
    expect(await destination.headManifest('mirror/team/stay', 'v1')).toBeDefined();
    expect((await cli(['verify'], path)).code).toBe(0);
  });

  it('exits 1 naming the registry when a destination cannot be read, and 2 for usage errors', async () => {
    const path = join(dir, 'down.yaml');
    await writeConfig(path, [
      { name: 'down', source: 'src', repositories: ['shop/db'], destinations: [{ registry: 'gone' }] },
    ], { gone: { url: `http://127.0.0.1:${await freePort()}`, insecure: true } });
    const r = await cli(['sync', '--dry-run'], path);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ferry: policy down: HEAD destination manifest shop\/db:v5: .*gone/m);
    expect((await cli(['verify'], path)).code).toBe(1);

    const unknown = await cli(['sync', '--policy', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no policy named "nope" (configured: shop)');
    expect((await cli(['verify', '--policy', 'nope'])).code).toBe(2);
    expect((await cli(['sync', '--concurrency', '0'])).code).toBe(2);
    expect((await cli(['sync', '--dry-run', '--wait'])).code).toBe(2);
  });
});
