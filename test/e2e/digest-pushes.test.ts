// Digest-only pushes through a real `ferry serve` between real Distribution registries
// (docs/contract.md: digest-only pushes follow their repository). A single-platform manifest pushed
// without a tag may be an index child: its job is deferred (FERRY_DIGEST_PUSH_DELAY, 30 s in
// production, 4 s here) so the index's job copies the children first and the deferred jobs
// end skipped; an image pushed only by digest is replicated once the delay has passed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/jobs/model.js';
import { buildImage, inspectRaw, pushImageByDigest, pushRandomIndex } from '../testbed/images.js';
import { arrives, eventually, rawOrUndefined, settled, sleep, startScenario, type Scenario } from './scenario.js';

const DELAY_MS = 4000;

describe('ferry serve replicates digest-only pushes, deferred', () => {
  let s: Scenario;

  beforeAll(async () => {
    s = await startScenario({
      // The tag filter would refuse every tag these tests could push by digest: digest-only
      // pushes are not subject to it.
      policies: [{ name: 'apps', source: 'src', repositories: ['app/**'], tags: ['v*'], destinations: [{ registry: 'dst', repository: 'mirror/{repository}' }] }],
      env: { FERRY_DIGEST_PUSH_DELAY: `${DELAY_MS}ms` },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  async function jobsOf(repository: string): Promise<Job[]> {
    const r = await s.api<{ jobs: Job[] }>('GET', `/api/jobs?repository=${encodeURIComponent(repository)}&limit=100`);
    expect(r.status).toBe(200);
    return r.body.jobs;
  }

  /** The job for `reference` in `repository`, once the webhook has queued it. */
  function jobFor(repository: string, reference: string, status?: Job['status']): Promise<Job> {
    return eventually(`a ${status ?? ''} job for ${repository}@${reference}`, async () =>
      (await jobsOf(repository)).find((j) => j.source.reference === reference && (status === undefined || j.status === status)), 20_000, 50);
  }

  it('replicates a single-platform image pushed only by digest after the delay, digest-identical and untagged; ferry jobs shows it queued meanwhile', async () => {
    const image = await buildImage({ layerSizes: [30_000, 70_000], label: 'bydigest' });
    try {
      await pushImageByDigest(image, `${s.src.host}/app/bydigest`);
      const queued = await jobFor('app/bydigest', image.digest, 'queued');
      expect(queued).toMatchObject({ policy: 'apps', destination: { registry: 'dst', repository: 'mirror/app/bydigest' }, attempts: 0, trigger: { kind: 'event', action: 'push' } });

      // The CLI reads the same store: the job is listed as queued while its delay runs.
      const listed = await s.cliJson<{ jobs: Job[] }>(['jobs', '--status', 'queued', '--repository', 'app/bydigest']);
      expect(listed.jobs.map((j) => j.id)).toContain(queued.id);
      expect(await rawOrUndefined(`${s.dst.host}/mirror/app/bydigest@${image.digest}`)).toBeUndefined();

      await arrives(`${s.dst.host}/mirror/app/bydigest@${image.digest}`, image.bytes, 30_000);
      const done = await jobFor('app/bydigest', image.digest, 'succeeded');
      expect(done.id).toBe(queued.id);
      expect(done.outcome).toMatchObject({ action: 'copied', digest: image.digest });
      expect(done.stats?.blobs.copied).toBe(3);
      // It did not run before its delay.
      expect(Date.parse(done.startedAt!) - Date.parse(done.createdAt)).toBeGreaterThanOrEqual(DELAY_MS);
      // Pushed by digest, copied by digest: no tag appears at the destination.
      const tags = await fetch(`${s.dst.url}/v2/mirror/app/bydigest/tags/list`);
      const listing = (await tags.json()) as { tags?: string[] | null };
      expect(tags.status === 404 ? [] : listing.tags ?? []).toEqual([]);
    } finally {
      await image.dispose();
    }
  });

  it('a multi-arch push is copied by the index job; the children\'s deferred jobs end skipped without copying', async () => {
    const image = await pushRandomIndex(`${s.src.host}/app/multi:v1`, { layerSizes: [20_000] });
    try {
      await arrives(`${s.dst.host}/mirror/app/multi:v1`, image.bytes);
      for (const child of image.children) {
        expect((await inspectRaw(`${s.dst.host}/mirror/app/multi@${child.digest}`)).equals(await inspectRaw(`${s.src.host}/app/multi@${child.digest}`))).toBe(true);
      }
      await sleep(DELAY_MS);
      await settled(s, 30_000);

      const jobs = await jobsOf('app/multi');
      const index = jobs.filter((j) => j.source.reference === 'v1');
      expect(index.map((j) => j.status)).toEqual(['succeeded']);
      expect(index[0]!.stats?.manifests).toBe(3);
      const children = jobs.filter((j) => j.source.reference !== 'v1');
      expect(children.map((j) => j.source.reference).sort()).toEqual(image.children.map((c) => c.digest).sort());
      for (const job of children) {
        expect(job.status).toBe('skipped');
        expect(job.outcome).toEqual({ action: 'skipped', digest: job.source.reference, reason: `destination dst/mirror/app/multi already has ${job.source.reference}` });
        expect(job.stats).toMatchObject({ manifests: 0, bytes: 0, blobs: { copied: 0, skipped: 0, mounted: 0 } });
        // Deferred past the index job's end: the index ran first.
        expect(Date.parse(job.startedAt!)).toBeGreaterThanOrEqual(Date.parse(index[0]!.finishedAt!));
      }
    } finally {
      await image.dispose();
    }
  });

  it('a deferred job survives kill -9 while it waits, and runs after the restart', async () => {
    const image = await buildImage({ layerSizes: [40_000], label: 'crash' });
    try {
      await pushImageByDigest(image, `${s.src.host}/app/crash`);
      const queued = await jobFor('app/crash', image.digest, 'queued');
      await s.ferry.kill9();
      // Nothing runs it while ferry is down, even once the delay has passed.
      await sleep(DELAY_MS + 500);
      expect(await rawOrUndefined(`${s.dst.host}/mirror/app/crash@${image.digest}`)).toBeUndefined();
      const down = await s.cliJson<Job>(['job', queued.id]);
      expect(down).toMatchObject({ id: queued.id, status: 'queued', attempts: 0 });

      await s.ferry.restart();
      await arrives(`${s.dst.host}/mirror/app/crash@${image.digest}`, image.bytes, 30_000);
      const done = await jobFor('app/crash', image.digest, 'succeeded');
      expect(done).toMatchObject({ id: queued.id, attempts: 1 });
      await settled(s, 30_000);
    } finally {
      await image.dispose();
    }
  });
});
