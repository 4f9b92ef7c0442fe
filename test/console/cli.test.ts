// The admin CLI's control-plane commands, run as the built `ferry` against an embedded
// backend: job columns and the labelled detail with attempts, cancel/retry, policy
// list/pause/resume, and that none of them needs registry secrets in the environment.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedBackend } from '../../shared/adapters/embedded/index.js';
import { enqueue } from '../../shared/jobs/enqueue.js';
import type { Job } from '../../shared/jobs/model.js';
import { spawn } from 'node:child_process';
import { freePort } from '../../infra/local/demo/distribution.js';
import { builtCli, ferryCli, ferryJson } from '../e2e/ferry-process.js';

let dir: string;
let configPath: string;
let job: Job;
let done: Job;

// The secrets are referenced but deliberately unset: admin commands must not need them.
const env = { DST_PASSWORD: undefined, SRC_HOOK_SECRET: undefined, FERRY_CONFIG: undefined };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-admin-cli-'));
  configPath = join(dir, 'ferry.yaml');
  await writeFile(configPath, `
admin: { token: console-cli-token }
dataDir: ${join(dir, 'data')}
registries:
  src: { url: "http://127.0.0.1:1", insecure: true, webhook: { secret: "\${env:SRC_HOOK_SECRET}" } }
  dst: { url: "http://127.0.0.1:2", insecure: true, auth: { username: robot, password: "\${env:DST_PASSWORD}" } }
policies:
  - { name: mirror, source: src, destinations: [{ registry: dst }] }
`);
  const backend = openEmbeddedBackend({ dataDir: join(dir, 'data') });
  const spec = (reference: string) => ({ policy: 'mirror', source: { registry: 'src', repository: 'team/app', reference }, destination: { registry: 'dst', repository: 'team/app' } });
  const enqueued = await enqueue({ queue: backend.queue, store: backend.store }, [spec('v1'), spec('v2')], { kind: 'manual', at: new Date().toISOString() });
  job = enqueued[0]!.job;
  done = enqueued[1]!.job;
  // A finished job with two attempts, as the runner records them.
  await backend.store.transition(done.id, ['queued'], {
    status: 'succeeded', attempts: 2, startedAt: '2026-05-01T12:00:10.000Z', finishedAt: '2026-05-01T12:00:12.500Z',
    outcome: { action: 'copied', digest: `sha256:${'c'.repeat(64)}` },
    stats: { manifests: 1, blobs: { copied: 2, skipped: 0, mounted: 0 }, bytes: 3 * 1024 * 1024, ms: 2500 },
    history: [
      { attempt: 1, startedAt: '2026-05-01T12:00:00.000Z', finishedAt: '2026-05-01T12:00:01.000Z', outcome: 'failed', error: { message: 'HTTP 503 from dst', status: 503, registry: 'dst', transient: true } },
      { attempt: 2, startedAt: '2026-05-01T12:00:10.000Z', finishedAt: '2026-05-01T12:00:12.500Z', outcome: 'succeeded', action: 'copied', bytes: 3 * 1024 * 1024 },
    ],
  });
  await backend.close();
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => ferryCli([...args, '--config', configPath], { env });

describe('ferry admin commands', () => {
  it('ferry jobs shows outcome, bytes and duration without any registry secret set', async () => {
    const r = await cli(['jobs']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/id.*status.*outcome.*policy.*source.*destination.*attempts.*bytes.*duration.*updated.*error/s);
    const line = r.stdout.split('\n').find((l) => l.includes(done.id.slice(0, 8)))!;
    expect(line).toMatch(/succeeded.*copied.*3\.0 MiB.*2\.50 s/);
  }, 60_000);

  it('ferry job ID labels every field and lists the attempts', async () => {
    const r = await cli(['job', done.id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^outcome\s+copied sha256:c+$/m);
    expect(r.stdout).toMatch(/^attempt 1\s+2026-05-01T12:00:00.000Z -> 2026-05-01T12:00:01.000Z \(1\.00 s\): failed$/m);
    expect(r.stdout).toMatch(/^attempt 1 error\s+HTTP 503 from dst \[registry dst, HTTP 503, transient\]$/m);
    expect(r.stdout).toMatch(/^attempt 2\s+.*\(2\.50 s\): succeeded, copied, 3\.0 MiB$/m);
    expect(r.stdout).not.toMatch(/^error\s/m);
  }, 60_000);

  it('ferry jobs cancel / retry act per id and exit 1 when one could not be done', async () => {
    const c = await cli(['jobs', 'cancel', job.id]);
    expect(c).toMatchObject({ code: 0, stdout: `${job.id}: cancelled\n` });
    const again = await cli(['jobs', 'cancel', job.id, done.id]);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`${done.id}: not done: job ${done.id} is succeeded`);
    const detail = await ferryJson<Job>(['job', job.id, '--config', configPath], env);
    expect(detail).toMatchObject({ status: 'cancelled', lastError: { code: 'CANCELLED', message: expect.stringMatching(/^cancelled by cli/) } });
    const r = await ferryJson<{ results: unknown[] }>(['jobs', 'retry', job.id, '--config', configPath], env);
    expect(r.results).toEqual([{ id: job.id, ok: true, result: 'queued', status: 'queued' }]);
    const queued = await ferryJson<Job>(['job', job.id, '--config', configPath], env);
    expect(queued.lastError).toBeUndefined();
    expect((await cli(['jobs', 'retry'])).code).toBe(2);
  }, 60_000);

  it('ferry policy list / pause / resume', async () => {
    expect(await cli(['policy', 'pause', 'mirror'])).toMatchObject({ code: 0, stdout: expect.stringContaining('policy mirror paused') });
    const list = await cli(['policy', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/mirror.*paused by cli/);
    expect(await cli(['policy', 'resume', 'mirror'])).toMatchObject({ code: 0, stdout: expect.stringContaining('policy mirror resumed') });
    const json = await ferryJson<{ policies: Array<{ name: string; paused: boolean }> }>(['policy', 'list', '--config', configPath], env);
    expect(json.policies).toMatchObject([{ name: 'mirror', paused: false }]);
    expect(await cli(['policy', 'pause', 'nope'])).toMatchObject({ code: 2, stderr: expect.stringContaining('no policy named "nope"') });
  }, 60_000);
});

describe('ferry console', () => {
  it('serves the console and the control-plane API for the configured backend, without workers or webhooks', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [await builtCli(), 'console', '--config', configPath, '--listen', `127.0.0.1:${port}`], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const base = `http://127.0.0.1:${port}`;
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        up = await fetch(`${base}/api/session`).then(() => true, () => false);
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      expect(up).toBe(true);
      expect((await fetch(`${base}/`)).headers.get('content-type')).toContain('text/html');
      const login = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'console-cli-token' }) });
      expect(login.status).toBe(200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const jobs = (await (await fetch(`${base}/api/jobs`, { headers: { cookie } })).json()) as { jobs: Job[] };
      expect(jobs.jobs.map((j) => j.id).sort()).toEqual([job.id, done.id].sort());
      expect((await fetch(`${base}/api/jobs`)).status).toBe(401);
      expect((await fetch(`${base}/webhooks/src`, { method: 'POST', body: '{}' })).status).toBe(404);
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);
});
