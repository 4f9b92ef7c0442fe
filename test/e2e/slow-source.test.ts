// A source that trickles bytes must not hold a worker: transfers below worker.minTransferRate
// are cut, and worker.jobTimeout bounds any attempt. The trickling source is a hostile test
// server (no real registry sends 1 byte at a time on purpose); the destination and the other
// source are real Distribution registries, ferry is the real `ferry serve`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/jobs/model.js';
import { addSyntheticImage, startHostileRegistry, trickle, type HostileRegistry } from '../testbed/hostile-registry.js';
import { pushRandomImage } from '../testbed/images.js';
import { arrives, eventually, startScenario, type Scenario } from './scenario.js';

describe('slow sources', () => {
  let s: Scenario;
  let slow: HostileRegistry;

  beforeAll(async () => {
    slow = await startHostileRegistry();
    s = await startScenario({
      registries: { slow: { url: slow.url, insecure: true } },
      policies: [
        { name: 'fast', source: 'src', repositories: ['fast/**'], destinations: [{ registry: 'dst' }] },
        { name: 'crawl', source: 'slow', repositories: ['crawl/app'], destinations: [{ registry: 'dst' }] },
        { name: 'steady', source: 'slow', repositories: ['steady/app'], destinations: [{ registry: 'dst' }] },
      ],
      // One worker: while a slow job holds it, nothing else runs.
      worker: { concurrency: 1, maxAttempts: 1, jobTimeout: '15s', minTransferRate: '1KiB/s', minTransferRateWindow: '2s' },
    });
  });
  afterAll(async () => {
    await s?.stop();
    await slow?.stop();
  });

  async function deadJob(repository: string): Promise<Job> {
    return eventually(`the job of ${repository} to be dead`, async () => {
      const r = await s.api<{ jobs: Job[] }>('GET', `/api/jobs?repository=${encodeURIComponent(repository)}`);
      return r.body.jobs.find((j) => j.status === 'dead');
    }, 60_000, 200);
  }

  it('cuts a transfer below worker.minTransferRate (500 B/s < 1 KiB/s over 2 s) and dead-letters the job with that reason', async () => {
    const image = addSyntheticImage(slow, 'crawl/app', 'v1', [200_000]);
    slow.onBlob(image.layers[0]!.digest, trickle(100, 200));
    const started = Date.now();
    expect((await s.api('POST', '/api/sync', { policy: 'crawl' })).status).toBeLessThan(300);
    const job = await deadJob('crawl/app');
    // Three tries of the blob inside the attempt, each cut after the 2 s window (before the
    // 15 s job timeout); without the floor the blob would take 400 s.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(job.lastError).toMatchObject({ registry: 'slow', code: 'TOO_SLOW', transient: true });
    expect(job.lastError!.message).toMatch(/below the floor of 1024 bytes\/s \(worker\.minTransferRate\)/);
  });

  it('cuts an attempt at worker.jobTimeout even when the transfer stays above the floor, and frees the worker for the next job', async () => {
    // 4 KiB every 200 ms = 20 KiB/s, well above the floor: 2 MiB would take ~100 s.
    const image = addSyntheticImage(slow, 'steady/app', 'v1', [2 * 1024 * 1024]);
    slow.onBlob(image.layers[0]!.digest, trickle(4096, 200));
    const started = Date.now();
    expect((await s.api('POST', '/api/sync', { policy: 'steady' })).status).toBeLessThan(300);
    await eventually('the steady job to run', async () => {
      const r = await s.api<{ jobs: Job[] }>('GET', '/api/jobs?repository=steady%2Fapp&status=running');
      return r.body.jobs[0];
    }, 20_000, 100);
    // Meanwhile a push to the real source waits for the only worker.
    const fast = await pushRandomImage(`${s.src.host}/fast/app:v1`, { layerSizes: [10_000] });

    const job = await deadJob('steady/app');
    expect(job.lastError).toMatchObject({ code: 'JOB_TIMEOUT', transient: true });
    expect(job.lastError!.message).toMatch(/^job attempt exceeded worker\.jobTimeout \(15s\)/);
    const ran = Date.parse(job.finishedAt!) - Date.parse(job.startedAt!);
    expect(ran).toBeGreaterThanOrEqual(14_900);
    expect(ran).toBeLessThan(23_000);
    await arrives(`${s.dst.host}/fast/app:v1`, fast.bytes, 30_000);
    expect(Date.now() - started).toBeLessThan(55_000);
  });
});
