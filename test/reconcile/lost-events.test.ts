// Why reconcile exists: Distribution keeps undelivered notifications only in memory. Push
// while ferry is down (the registry keeps retrying), restart the registry, and the event is
// gone for good; only a reconcile (here POST /api/sync on a real `ferry serve`, and the
// `ferry sync` CLI against the same backend) brings the destination back in line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/jobs/model.js';
import { pushRandomImage } from '../testbed/images.js';
import { arrives, eventually, rawOrUndefined, sleep, startScenario, type Scenario } from '../e2e/scenario.js';

interface DistributionEvent {
  action: string;
  target: { repository: string; tag?: string };
}

describe('events lost in a source registry restart are repaired by reconcile', () => {
  let s: Scenario;

  beforeAll(async () => {
    s = await startScenario({
      policies: [{ name: 'lost', source: 'src', repositories: ['lost/**'], destinations: [{ registry: 'dst' }] }],
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  const pushEventSeen = (repository: string, tag: string) => s.captured.some((c) =>
    (JSON.parse(c.body.toString('utf8')) as { events: DistributionEvent[] }).events
      .some((e) => e.action === 'push' && e.target.repository === repository && e.target.tag === tag));

  it('repairs the destination after the notification was lost', async () => {
    // Events flow while ferry is up.
    const before = await pushRandomImage(`${s.src.host}/lost/app:v1`, { layerSizes: [1024] });
    await arrives(`${s.dst.host}/lost/app:v1`, before.bytes);

    // ferry goes down; a push happens; the registry emits the event (the capture endpoint
    // got it) but cannot deliver it to ferry, and keeps it queued in memory...
    await s.ferry.stop();
    const missed = await pushRandomImage(`${s.src.host}/lost/app:v2`, { layerSizes: [1024] });
    await eventually('the registry to emit the push', async () => (pushEventSeen('lost/app', 'v2') ? true : undefined));
    // ...until the registry restarts, and the queue is gone.
    await s.src.restart();
    await s.ferry.restart();
    await sleep(3000);
    expect(await rawOrUndefined(`${s.dst.host}/lost/app:v2`)).toBeUndefined();
    const jobs = await s.api<{ jobs: Job[] }>('GET', '/api/jobs?repository=lost/app');
    expect(jobs.body.jobs.filter((j) => j.source.reference === 'v2')).toEqual([]);

    // The CLI sees the drift; a reconcile through the running server repairs it.
    const drift = await s.cli(['verify']);
    expect(drift.code).toBe(1);
    expect(drift.stdout).toMatch(/missing\s+dst\/lost\/app:v2/);
    const sync = await s.api<{ policies: Array<{ policy: string; copy: number }> }>('POST', '/api/sync', { policy: 'lost' });
    expect(sync.status).toBe(202);
    expect(sync.body.policies).toEqual([expect.objectContaining({ policy: 'lost', copy: 1 })]);
    await arrives(`${s.dst.host}/lost/app:v2`, missed.bytes);
    const after = await s.api<{ jobs: Job[] }>('GET', '/api/jobs?repository=lost/app');
    expect(after.body.jobs.find((j) => j.source.reference === 'v2')).toMatchObject({ trigger: { kind: 'reconcile' } });
    expect((await s.cli(['verify'])).code).toBe(0);
  });

  it('ferry sync from the CLI works alongside the running server (same backend)', async () => {
    await s.ferry.stop();
    const missed = await pushRandomImage(`${s.src.host}/lost/app:v3`, { layerSizes: [1024] });
    await eventually('the registry to emit the push', async () => (pushEventSeen('lost/app', 'v3') ? true : undefined));
    await s.src.restart();
    await s.ferry.restart();
    // Enqueued by the CLI, run by the server's workers.
    const r = await s.cli(['sync', '--policy', 'lost']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1 to copy');
    await arrives(`${s.dst.host}/lost/app:v3`, missed.bytes);
  });
});
