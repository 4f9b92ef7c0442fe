// Losing the ferry process mid-copy loses nothing: after kill -9 the restarted process
// finishes the job; on SIGTERM it stops taking work, refuses webhooks with 503, releases
// what it could not finish within the grace period and exits cleanly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/jobs/model.js';
import { buildImage, pushImage } from '../testbed/images.js';
import { arrives, eventually, rawOrUndefined, settled, startScenario, type Scenario } from './scenario.js';

const MiB = 1024 * 1024;

describe('ferry serve survives crashes and drains on SIGTERM', () => {
  let s: Scenario;

  beforeAll(async () => {
    s = await startScenario({
      policies: [{ name: 'big', source: 'src', repositories: ['big/**'], destinations: [{ registry: 'dst' }] }],
      // A bandwidth cap makes the copy take seconds, so the process can be hit mid-transfer.
      // The default visibility timeout (30 s): recovery must not depend on a test-sized one.
      worker: { concurrency: 2, bandwidth: '25MiB/s', shutdownGrace: '1s', maxAttempts: 5, retryDelay: '500ms' },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  async function runningJob(repository: string): Promise<Job> {
    return eventually(`a running job for ${repository}`, async () => {
      const r = await s.api<{ jobs: Job[] }>('GET', `/api/jobs?status=running&repository=${encodeURIComponent(repository)}`);
      return r.body.jobs[0];
    }, 60_000, 100);
  }

  it('finishes a 200 MiB copy after kill -9 and a restart, leaving nothing queued or running', async () => {
    const image = await buildImage({ layerSizes: [100 * MiB, 100 * MiB], label: 'crash' });
    try {
      await pushImage(image, `${s.src.host}/big/crash:v1`);
      const first = await runningJob('big/crash');
      await new Promise((r) => setTimeout(r, 1500));
      await s.ferry.kill9();
      expect(await rawOrUndefined(`${s.dst.host}/big/crash:v1`)).toBeUndefined();

      await s.ferry.restart();
      const restarted = Date.now();
      // The dead process's message and key lease are released at start: the job runs again
      // at once, not after the visibility timeout.
      await eventually('the interrupted job running again', async () => {
        const job = (await s.api<Job>('GET', `/api/jobs/${first.id}`)).body;
        return job.attempts >= 2 || job.status === 'succeeded' ? job : undefined;
      }, 30_000, 100);
      const resumedMs = Date.now() - restarted;
      console.log(`kill -9 recovery: the interrupted job ran again ${resumedMs} ms after the restart`);
      expect(s.ferry.output()).toContain('released jobs and key leases held by a process that is gone');
      expect(resumedMs).toBeLessThan(10_000);
      await arrives(`${s.dst.host}/big/crash:v1`, image.bytes, 120_000);
      await settled(s, 30_000);
      const { jobs } = await s.cliJson<{ jobs: Job[] }>(['jobs', '--limit', '100']);
      expect(jobs.length).toBeGreaterThan(0);
      expect(jobs.filter((j) => j.status === 'queued' || j.status === 'running' || j.status === 'failed')).toEqual([]);
      const depth = await s.api<{ queue: { queued: number; inFlight: number } }>('GET', '/healthz');
      expect(depth.body.queue).toMatchObject({ queued: 0, inFlight: 0 });
    } finally {
      await image.dispose();
    }
  });

  it('after kill -9 mid-copy, a fresh push of the same tag is not held up by the dead run', async () => {
    const old = await buildImage({ layerSizes: [120 * MiB], label: 'tag-old' });
    const fresh = await buildImage({ layerSizes: [MiB], label: 'tag-new' });
    try {
      await pushImage(old, `${s.src.host}/big/retag:v1`);
      await runningJob('big/retag');
      await new Promise((r) => setTimeout(r, 1000));
      await s.ferry.kill9();
      await s.ferry.restart();
      const pushed = Date.now();
      await pushImage(fresh, `${s.src.host}/big/retag:v1`);
      await arrives(`${s.dst.host}/big/retag:v1`, fresh.bytes, 60_000);
      const ms = Date.now() - pushed;
      console.log(`kill -9 then a fresh push of the same tag: at the destination ${ms} ms after the push`);
      expect(ms).toBeLessThan(30_000);
      await settled(s, 60_000);
    } finally {
      await old.dispose();
      await fresh.dispose();
    }
  });

  it('on SIGTERM refuses webhooks with 503, releases the unfinished job and exits 0; the next process completes it', async () => {
    const image = await buildImage({ layerSizes: [120 * MiB], label: 'drain' });
    try {
      await pushImage(image, `${s.src.host}/big/drain:v1`);
      await runningJob('big/drain');
      const exited = s.ferry.stop();
      // SIGTERM is handled asynchronously: wait for the drain to begin (its log line), or a
      // webhook sent first is still served normally. Draining lasts the grace period (1 s)
      // plus the release; a webhook now gets 503.
      for (const until = Date.now() + 5_000; !s.ferry.output().includes('draining: no new jobs or webhooks'); ) {
        if (Date.now() > until) throw new Error(`ferry serve did not start draining within 5 s of SIGTERM:\n${s.ferry.output()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const during = await fetch(`${s.ferry.url}/webhooks/src`, { method: 'POST', headers: { authorization: `Bearer ${s.webhookSecret}` }, body: '{"events":[]}' });
      expect(during.status).toBe(503);
      expect(await during.json()).toMatchObject({ error: 'shutting down' });
      expect(await exited).toBe(0);
      expect(s.ferry.output()).toContain('released unfinished job on shutdown');

      await s.ferry.restart();
      await arrives(`${s.dst.host}/big/drain:v1`, image.bytes, 120_000);
      await settled(s, 30_000);

      // worker.bandwidth (25 MiB/s) held for the run that copied the layer.
      const listed = await s.api<{ jobs: Job[] }>('GET', `/api/jobs?repository=${encodeURIComponent('big/drain')}&status=succeeded`);
      expect(listed.status, JSON.stringify(listed.body)).toBe(200);
      const { jobs } = listed.body;
      const stats = jobs[0]?.stats;
      // The drained run stopped at a chunk boundary and kept its upload session, so this run
      // may have sent only the rest of the 120 MiB layer: never more than the layer.
      expect(stats?.bytes).toBeGreaterThan(0);
      expect(stats!.bytes).toBeLessThanOrEqual(120 * MiB + MiB);
      expect(stats!.bytes / (stats!.ms / 1000)).toBeLessThan(25 * MiB * 1.2);
    } finally {
      await image.dispose();
    }
  });
});
