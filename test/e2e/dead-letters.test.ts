// A destination that is down: the job retries, lands in the DLQ with its error, and an
// admin replays it with the CLI once the destination is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushRandomImage } from '../testbed/images.js';
import type { DeadLetterView } from '../../shared/jobs/dead-letters.js';
import { arrives, eventually, startScenario, type Scenario } from './scenario.js';

describe('dead letters and replay', () => {
  let s: Scenario;

  beforeAll(async () => {
    s = await startScenario({
      policies: [{ name: 'dr', source: 'src', repositories: ['team/**'], destinations: [{ registry: 'dst' }] }],
      worker: { maxAttempts: 2, retryDelay: '300ms' },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('retries, dead-letters with the error, and replays into a replica once the destination is back', async () => {
    // The destination goes away (crash): connections are refused until it restarts.
    process.kill(s.dst.pid!, 'SIGKILL');
    const image = await pushRandomImage(`${s.src.host}/team/app:v1`);

    const dead = await eventually('the job in the DLQ', async () => {
      const { dead } = await s.cliJson<{ dead: DeadLetterView[] }>(['dlq', 'list']);
      return dead.find((d) => d.job?.source.repository === 'team/app');
    }, 90_000, 500);
    expect(dead.job).toMatchObject({ status: 'dead', attempts: 2, destination: { registry: 'dst', repository: 'team/app' } });
    expect(dead.job?.lastError?.message).toBeTruthy();
    expect(dead.job?.lastError?.transient).toBe(true);

    const table = await s.cli(['dlq', 'list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(dead.jobId);

    await s.dst.restart();
    const replay = await s.cli(['dlq', 'replay', '--all']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain(dead.jobId);

    await arrives(`${s.dst.host}/team/app:v1`, image.bytes, 60_000);
    const after = await s.cliJson<{ dead: DeadLetterView[] }>(['dlq', 'list']);
    expect(after.dead).toEqual([]);
    const job = await s.cliJson<{ status: string; replays?: Array<{ by: string }> }>(['job', dead.jobId]);
    expect(job.status).toBe('succeeded');
    expect(job.replays?.length).toBe(1);

    // Replaying it again by id: it is no longer dead, and the CLI says so.
    const again = await s.cli(['dlq', 'replay', dead.jobId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`not in the dead-letter queue: ${dead.jobId}`);
  });

  it('replays by repository through the admin API', async () => {
    process.kill(s.dst.pid!, 'SIGKILL');
    const image = await pushRandomImage(`${s.src.host}/team/api:v1`);
    const dead = await eventually('the job in GET /api/dlq', async () => {
      const r = await s.api<{ dead: DeadLetterView[] }>('GET', '/api/dlq');
      return r.body.dead.find((d) => d.job?.source.repository === 'team/api' && d.job.status === 'dead');
    }, 90_000, 500);
    await s.dst.restart();
    const r = await s.api<{ replayed: string[] }>('POST', '/api/dlq/replay', { repository: 'team/api' });
    expect(r.status).toBe(200);
    expect(r.body.replayed).toEqual([dead.jobId]);
    await arrives(`${s.dst.host}/team/api:v1`, image.bytes, 60_000);
    expect((await s.api<{ dead: DeadLetterView[] }>('GET', '/api/dlq')).body.dead).toEqual([]);
  });

  it('answers usage errors with exit 2 and unknown jobs with exit 1', async () => {
    const usage = await s.cli(['dlq', 'replay']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--all|job id/i);
    const missing = await s.cli(['job', 'no-such-job']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });
});
