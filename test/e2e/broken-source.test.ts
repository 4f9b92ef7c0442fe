// `ferry serve` against a source whose blob responses break off: it must record the failure
// on the job and keep serving, never die of an unhandled stream error. The source is a real
// Distribution with an in-memory blob descriptor cache (as Debian's packaged config has) whose
// blob data file was deleted: it answers the GET with headers and closes mid-body.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/jobs/model.js';
import { buildImage, pushImage, readLayoutBlob, type TestImage } from '../testbed/images.js';
import { deleteBlobData, restoreBlobData, type DistributionRegistry } from '../testbed/registries.js';
import { arrives, eventually, settled, startScenario, type Scenario } from './scenario.js';

const MiB = 1024 * 1024;

/** Tags an already-pushed manifest with a plain PUT (no blob is read, so a missing data file does not matter). */
async function tag(registry: DistributionRegistry, repository: string, tagName: string, image: TestImage): Promise<void> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${tagName}`, {
    method: 'PUT', headers: { 'content-type': image.mediaType }, body: image.bytes,
  });
  expect(res.status, await res.text()).toBe(201);
}

describe('ferry serve with a source whose blob bodies break off', () => {
  let s: Scenario;

  beforeAll(async () => {
    s = await startScenario({
      policies: [{ name: 'all', source: 'src', repositories: ['**'], tags: ['v*'], destinations: [{ registry: 'dst' }] }],
      worker: { concurrency: 2, maxAttempts: 2, retryDelay: '200ms', shutdownGrace: '1s', bandwidth: '4MiB/s' },
      sourceRegistry: { blobDescriptorCache: true },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  async function jobOf(repository: string, statuses: string[]): Promise<Job> {
    return eventually(`a job for ${repository} in ${statuses.join('/')}`, async () => {
      const r = await s.api<{ jobs: Job[] }>('GET', `/api/jobs?repository=${encodeURIComponent(repository)}`);
      return r.body.jobs.find((j) => statuses.includes(j.status));
    }, 60_000, 100);
  }

  it('dead-letters the job with the source network error and keeps serving', async () => {
    // Pushed under a tag no policy covers, so no job runs before the data file is gone.
    const image = await buildImage({ layerSizes: [2 * MiB, 3_000], label: 'cut' });
    try {
      await pushImage(image, `${s.src.host}/team/cut:pre`);
      await deleteBlobData(s.src, image.layers[0]!.digest);
      await tag(s.src, 'team/cut', 'v1', image);
      const job = await jobOf('team/cut', ['dead']);
      expect(job.lastError).toMatchObject({ registry: 'src', code: 'NETWORK', transient: true });
      expect(job.lastError!.message).toContain(image.layers[0]!.digest);
      expect(job.attempts).toBe(2);
      expect((await fetch(`${s.ferry.url}/healthz`)).status).toBe(200);
      expect(s.ferry.output()).not.toContain("Unhandled 'error' event");
    } finally {
      await image.dispose();
    }
  });

  it('survives a blob that fails while its sibling is streaming, and copies the image once the blob is back', async () => {
    // The 12 MiB layer streams for seconds (worker.bandwidth 4 MiB/s) while the small one fails.
    const image = await buildImage({ layerSizes: [12 * MiB, 5_000], label: 'sibling' });
    try {
      await pushImage(image, `${s.src.host}/team/sibling:pre`);
      await deleteBlobData(s.src, image.layers[1]!.digest);
      await tag(s.src, 'team/sibling', 'v1', image);
      const job = await jobOf('team/sibling', ['dead']);
      expect(job.lastError!.message).toContain(image.layers[1]!.digest);
      expect((await fetch(`${s.ferry.url}/healthz`)).status).toBe(200);

      // The same process still works: repair the source and replay the dead letter.
      await restoreBlobData(s.src, image.layers[1]!.digest, await readLayoutBlob(image, image.layers[1]!.digest));
      const replay = await s.api<unknown>('POST', '/api/dlq/replay', { repository: 'team/sibling' });
      expect(replay.status).toBe(200);
      await arrives(`${s.dst.host}/team/sibling:v1`, image.bytes, 60_000);
      await settled(s, 30_000);
    } finally {
      await image.dispose();
    }
  });

  it('on SIGTERM during a monolithic blob upload outliving shutdownGrace, cuts it at once, releases the job and exits 0', async () => {
    // 60 MiB at 4 MiB/s: one streamed PUT (below the 64 MiB chunk threshold), far from done
    // when the 1 s grace ends. It cannot stop at a chunk boundary, so it is cut at once and
    // the runner itself puts the job back (record queued, lease released), not the pool's
    // fallback, which only makes the message visible again.
    const image = await buildImage({ layerSizes: [60 * MiB], label: 'term' });
    try {
      await pushImage(image, `${s.src.host}/team/term:v1`);
      await jobOf('team/term', ['running']);
      await new Promise((r) => setTimeout(r, 1500));
      const stopping = Date.now();
      expect(await s.ferry.stop()).toBe(0);
      const drainMs = Date.now() - stopping;
      const log = s.ferry.output();
      expect(log).not.toContain("Unhandled 'error' event");
      const released = log.split('\n').filter((l) => l.includes('released unfinished job on shutdown'));
      expect(released.length).toBe(1);
      expect(JSON.parse(released[0]!)).toMatchObject({ by: 'runner' });
      expect(drainMs).toBeLessThan(1000 + 2500);
      const { jobs } = await s.cliJson<{ jobs: Job[] }>(['jobs', '--repository', 'team/term']);
      expect(jobs.map((j) => j.status)).toEqual(['queued']);

      await s.ferry.restart();
      await arrives(`${s.dst.host}/team/term:v1`, image.bytes, 60_000);
      await settled(s, 30_000);
    } finally {
      await image.dispose();
    }
  }, 120_000);
});
