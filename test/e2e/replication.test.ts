// ferry serve end to end: a real source registry notifies a real `ferry serve` process,
// which replicates into a real destination registry. Every assertion looks at the
// registries (skopeo) or at ferry's public surfaces (admin API, CLI, /metrics).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/jobs/model.js';
import { deleteImage, inspectRaw, pullToOciDir, pushRandomImage, pushRandomIndex } from '../testbed/images.js';
import { parsePrometheusText } from './prom-text.js';
import { arrives, disappears, eventually, rawOrUndefined, settled, sleep, startScenario, type Scenario } from './scenario.js';

interface DistributionEvent {
  action: string;
  target: { repository: string; tag?: string; digest?: string; mediaType?: string };
}

function eventsOf(body: Buffer): DistributionEvent[] {
  return (JSON.parse(body.toString('utf8')) as { events: DistributionEvent[] }).events;
}

describe('ferry serve replicates pushes and deletes between real registries', () => {
  let s: Scenario;
  const src = (ref: string) => `${s.src.host}/${ref}`;
  const dst = (ref: string) => `${s.dst.host}/${ref}`;

  beforeAll(async () => {
    s = await startScenario({
      policies: [
        { name: 'apps', source: 'src', repositories: ['app/**', '!app/scratch/**'], tags: ['v*', 'latest', '!*-rc*'], destinations: [{ registry: 'dst' }], deletes: true },
        { name: 'keep', source: 'src', repositories: ['keep/**'], destinations: [{ registry: 'dst', repository: 'mirror/{repository}' }], deletes: false },
        // Every second (croner's 6-field form), so the test sees the schedule act quickly.
        { name: 'sched', source: 'src', repositories: ['sched/**'], destinations: [{ registry: 'dst' }], schedule: '* * * * * *' },
      ],
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('copies a single-arch image digest-identical, and it pulls', async () => {
    const image = await pushRandomImage(src('app/single:v1'), { layerSizes: [64 * 1024, 256 * 1024] });
    await arrives(dst('app/single:v1'), image.bytes);
    await pullToOciDir(dst('app/single:v1'));
  });

  it('copies a multi-arch index with every child, digest-identical', async () => {
    const image = await pushRandomIndex(src('app/multi:v1'));
    await arrives(dst('app/multi:v1'), image.bytes);
    for (const child of image.children) {
      expect((await inspectRaw(dst(`app/multi@${child.digest}`))).equals(await inspectRaw(src(`app/multi@${child.digest}`)))).toBe(true);
    }
  });

  it('follows a tag moved to a new digest', async () => {
    const first = await pushRandomImage(src('app/move:v1'));
    await arrives(dst('app/move:v1'), first.bytes);
    const second = await pushRandomImage(src('app/move:v1'));
    expect(second.digest).not.toBe(first.digest);
    await arrives(dst('app/move:v1'), second.bytes);
  });

  it('propagates a delete by digest when the policy has deletes: true, and keeps it when false', async () => {
    const gone = await pushRandomImage(src('app/del:v1'));
    const kept = await pushRandomImage(src('keep/img:v1'));
    await arrives(dst('app/del:v1'), gone.bytes);
    await arrives(dst('mirror/keep/img:v1'), kept.bytes);

    await deleteImage(src(`app/del@${gone.digest}`));
    await deleteImage(src(`keep/img@${kept.digest}`));
    await disappears(dst(`app/del@${gone.digest}`));
    // The keep/ delete event has surely been delivered and handled once the capture
    // endpoint (notified alongside ferry) saw it and ferry has nothing left to do.
    await eventually('the keep/img delete notification', async () =>
      s.captured.some((c) => eventsOf(c.body).some((e) => e.action === 'delete' && e.target.repository === 'keep/img')) ? true : undefined);
    await sleep(1000);
    await settled(s);
    expect((await rawOrUndefined(dst(`mirror/keep/img@${kept.digest}`)))?.equals(kept.bytes)).toBe(true);
  });

  it('respects repository and tag filters', async () => {
    const wanted = await pushRandomImage(src('app/filters:v2'));
    await pushRandomImage(src('app/filters:v2-rc1'));
    await pushRandomImage(src('app/filters:dev'));
    await pushRandomImage(src('app/scratch/tmp:v1'));
    await pushRandomImage(src('other/thing:v1'));
    await arrives(dst('app/filters:v2'), wanted.bytes);
    await sleep(1000);
    await settled(s);
    for (const ref of ['app/filters:v2-rc1', 'app/filters:dev', 'app/scratch/tmp:v1', 'other/thing:v1', 'mirror/other/thing:v1']) {
      expect(await rawOrUndefined(dst(ref)), ref).toBeUndefined();
    }
  });

  it('ends in the source state after duplicate and out-of-order re-deliveries of the captured events', async () => {
    const a = await pushRandomImage(src('app/order:v1'));
    await arrives(dst('app/order:v1'), a.bytes);
    const b = await pushRandomImage(src('app/order:v1'));
    await arrives(dst('app/order:v1'), b.bytes);
    const c = await pushRandomImage(src('app/order:v2'));
    await arrives(dst('app/order:v2'), c.bytes);
    await deleteImage(src(`app/order@${c.digest}`));
    await disappears(dst(`app/order@${c.digest}`));

    const mine = await eventually('the captured app/order events', async () => {
      const got = s.captured.filter((r) => eventsOf(r.body).some((e) => e.target.repository === 'app/order' && (e.action === 'push' || e.action === 'delete')));
      return got.some((r) => eventsOf(r.body).some((e) => e.action === 'delete')) ? got : undefined;
    });
    expect(mine.length).toBeGreaterThanOrEqual(4);
    // Newest first, each twice: the old push of A and the push of the deleted C come last.
    for (const request of [...mine].reverse().flatMap((r) => [r, r])) {
      const res = await fetch(`${s.ferry.url}/webhooks/src`, {
        method: 'POST',
        headers: { authorization: String(request.headers.authorization), 'content-type': String(request.headers['content-type']) },
        body: request.body,
      });
      expect(res.status, await res.text()).toBeLessThan(300);
    }
    await sleep(500);
    await settled(s);
    expect((await inspectRaw(dst('app/order:v1'))).equals(b.bytes)).toBe(true);
    expect(await rawOrUndefined(dst('app/order:v2'))).toBeUndefined();
    expect(await rawOrUndefined(dst(`app/order@${c.digest}`))).toBeUndefined();
  });

  it('repairs drift when an admin asks for a sync (POST /api/sync)', async () => {
    const image = await pushRandomImage(src('app/drift:v1'));
    await arrives(dst('app/drift:v1'), image.bytes);
    await deleteImage(dst(`app/drift@${image.digest}`));
    await disappears(dst('app/drift:v1'));

    const r = await s.api<{ policies: Array<{ policy: string; copy: number; enqueued: number }> }>('POST', '/api/sync', { policy: 'apps' });
    expect(r.status).toBe(202);
    expect(r.body.policies).toHaveLength(1);
    expect(r.body.policies[0]).toMatchObject({ policy: 'apps', copy: 1, enqueued: 1 });
    await arrives(dst('app/drift:v1'), image.bytes);

    const unknown = await s.api<{ error: string }>('POST', '/api/sync', { policy: 'nope' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('unknown policy');
  });

  it('repairs drift on its own for a policy with a schedule', async () => {
    const image = await pushRandomImage(src('sched/app:v1'));
    await arrives(dst('sched/app:v1'), image.bytes);
    await deleteImage(dst(`sched/app@${image.digest}`));
    // No event and no admin call: the next scheduled reconcile puts it back.
    await arrives(dst('sched/app:v1'), image.bytes, 20_000);
    const { jobs } = (await s.api<{ jobs: Job[] }>('GET', '/api/jobs?policy=sched&limit=50')).body;
    expect(jobs.some((j) => j.trigger.kind === 'reconcile' && j.status === 'succeeded')).toBe(true);
  });

  it('lists jobs through the CLI while serve runs, and shows one job in detail', async () => {
    const { jobs } = await s.cliJson<{ jobs: Job[] }>(['jobs', '--policy', 'apps', '--limit', '200']);
    expect(jobs.length).toBeGreaterThan(5);
    expect(jobs.every((j) => j.policy === 'apps')).toBe(true);
    const done = jobs.find((j) => j.source.repository === 'app/single' && j.status === 'succeeded');
    expect(done).toBeDefined();
    const detail = await s.cliJson<Job>(['job', done!.id]);
    expect(detail).toMatchObject({ id: done!.id, status: 'succeeded', destination: { registry: 'dst', repository: 'app/single' } });
    expect(detail.stats?.blobs.copied).toBeGreaterThan(0);
    const table = await s.cli(['jobs', '--status', 'succeeded', '--limit', '3']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/id.*status.*policy.*source.*destination.*attempts.*updated.*error/s);
  });

  it('rejects admin API calls with a missing or wrong token', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }] as Array<Record<string, string>>) {
      const res = await fetch(`${s.ferry.url}/api/jobs`, { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'unauthorized', detail: expect.any(String) });
    }
    expect((await s.api('GET', '/api/jobs?limit=1')).status).toBe(200);
  });

  it('exposes /metrics as Prometheus text counting what happened', async () => {
    const res = await fetch(`${s.ferry.url}/metrics`);
    expect(res.status).toBe(200);
    const families = parsePrometheusText(await res.text());
    const value = (family: string, labels: Record<string, string> = {}) =>
      (families.get(family)?.samples ?? [])
        .filter((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v) && x.name === family)
        .reduce((sum, x) => sum + x.value, 0);
    expect(value('ferry_jobs_total', { status: 'succeeded' })).toBeGreaterThan(0);
    expect(value('ferry_webhook_requests_total', { registry: 'src', status: '202' })).toBeGreaterThan(0);
    expect(value('ferry_bytes_copied_total')).toBeGreaterThan(0);
    expect(families.get('ferry_job_duration_seconds')?.type).toBe('histogram');
    expect(families.get('ferry_queue_depth')?.samples.length).toBe(3);
  });
});
