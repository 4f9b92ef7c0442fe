// The webhook's HTTP contract (docs/contract.md), driven with captured Distribution 2.8.2 requests
// into a real embedded SQLite backend.
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/observability/logger.js';
import type { Job } from '../../shared/jobs/model.js';
import { createIngest, MAX_WEBHOOK_BODY_BYTES } from '../../shared/intake/ingest.js';
import { bearer, captured, DIST_SECRET, openHarness, replay, request, type Harness } from './harness.js';

let h: Harness;
beforeEach(async () => { h = await openHarness(); });
afterEach(async () => { await h.close(); });

async function allJobs(): Promise<Job[]> {
  return (await h.backend.store.list({ limit: 1000 })).jobs;
}

const INDEX_DIGEST = 'sha256:0a9bee1a9c50';

describe('POST /webhooks/{registry} with Distribution events', () => {
  it('a single-arch push: blob events answer 200 with nothing queued, the manifest event 202 with its job', async () => {
    const responses = [];
    for (const req of captured('push-single-arch')) responses.push(await replay(h, req));
    expect(responses.slice(0, 4).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(responses[0]!.body).toEqual({ accepted: 0, ignored: 1, jobs: [] });
    const last = responses[4]!;
    expect(last.status).toBe(202);
    expect(last.body).toEqual({
      accepted: 1,
      ignored: 0,
      jobs: [{
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        policy: 'src-mirror',
        source: { registry: 'src', repository: 'team/app', reference: 'v1' },
        destination: { registry: 'dr', repository: 'mirror/team/app' },
        reason: 'push team/app:v1',
      }],
    });
    // Durable before the answer: the job record and its queue message exist.
    const [job] = (last.body.jobs as Array<{ id: string }>);
    const stored = await h.backend.store.get(job!.id);
    expect(stored).toMatchObject({ status: 'queued', policy: 'src-mirror', source: { digest: expect.stringMatching(/^sha256:/) }, trigger: { kind: 'event', action: 'push', eventId: expect.any(String) } });
    const received = await h.backend.queue.receive(10, 30);
    expect(received.map((m) => m.message.jobId)).toEqual([job!.id]);
  });

  it('a multi-arch push: the index job can run at once, each child gets a job that is queued but deferred', async () => {
    const responses = [];
    for (const req of captured('push-multi-arch')) responses.push(await replay(h, req));
    const jobs = responses.flatMap((r) => (r.body.jobs ?? []) as Array<{ id: string; source: { reference: string }; reason: string }>);
    expect(responses.filter((r) => r.status === 202)).toHaveLength(3);
    expect(jobs.map((j) => j.source.reference.slice(0, 7))).toEqual(['sha256:', 'sha256:', 'v1']);
    const [childA, childB, index] = jobs as [typeof jobs[0], typeof jobs[0], typeof jobs[0]];
    for (const child of [childA, childB]) {
      expect(child.reason).toMatch(/^push team\/multi@sha256:[0-9a-f]{64}; runs in 30 s \(an untagged manifest may be a child of an index/);
      expect(await h.backend.store.get(child.id)).toMatchObject({ status: 'queued', attempts: 0, source: { repository: 'team/multi' } });
    }
    expect(index.reason).toBe('push team/multi:v1');
    const stored = await allJobs();
    expect(stored.find((j) => j.id === index.id)?.source.digest?.slice(0, INDEX_DIGEST.length)).toBe(INDEX_DIGEST);
    // Only the index's message is receivable now; the children's wait out their delay
    // (counted as queued meanwhile).
    expect((await h.backend.queue.receive(100, 30, 0)).map((m) => m.message.jobId)).toEqual([index.id]);
    expect(await h.backend.queue.depth()).toMatchObject({ queued: 2, inFlight: 1, dead: 0 });
  });

  it('the deferral is an option of the intake: 0 sends the child jobs undelayed; an invalid one fails at creation', async () => {
    const ingest = createIngest({ config: h.config, queue: h.backend.queue, store: h.backend.store, digestPushDelaySeconds: 0 });
    const jobs = [];
    for (const req of captured('push-multi-arch')) jobs.push(...(((await ingest(req)).body.jobs ?? []) as Array<{ id: string; reason: string }>));
    expect(jobs).toHaveLength(3);
    expect(jobs.every((j) => !j.reason.includes('runs in'))).toBe(true);
    expect((await h.backend.queue.receive(100, 30, 0)).map((m) => m.message.jobId).sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(() => createIngest({ config: h.config, queue: h.backend.queue, store: h.backend.store, digestPushDelaySeconds: 901 })).toThrow(/between 0 and 900/);
  });

  it('pulls, HEAD checks and mounts are ignored with 200', async () => {
    for (const name of ['pull-multi-arch', 'pull-skopeo-copy', 'pull-curl-head-manifest']) {
      for (const req of captured(name)) {
        const res = await replay(h, req);
        expect(res).toEqual({ status: 200, body: { accepted: 0, ignored: 1, jobs: [] } });
      }
    }
    expect(await allJobs()).toEqual([]);
  });

  it('an empty batch is answered 200', async () => {
    const res = await h.ingest(request('src', { events: [] }, { headers: bearer(DIST_SECRET) }));
    expect(res).toEqual({ status: 200, body: { accepted: 0, ignored: 0, jobs: [] } });
  });

  it('a delete by digest queues the digest delete and one job per tag that pointed at it', async () => {
    const bodies = [];
    for (const req of captured('delete-skopeo-by-tag')) bodies.push(await replay(h, req));
    const refs = bodies.flatMap((r) => (r.body.jobs as Array<{ source: { reference: string }; reason: string }>));
    expect(refs.map((j) => j.reason)).toEqual([
      expect.stringMatching(/^delete team\/app@sha256:ad2f/),
      'delete team/app:v1',
      'delete team/app:v1-retag',
    ]);
  });

  it('a redelivered event (same id) does not create a second job', async () => {
    const manifest = captured('push-single-arch')[4]!;
    const first = await replay(h, manifest);
    const again = await replay(h, manifest);
    expect(again.status).toBe(202);
    const [a] = first.body.jobs as Array<{ id: string }>;
    const [b] = again.body.jobs as Array<{ id: string; reason: string }>;
    expect(b!.id).toBe(a!.id);
    expect(b!.reason).toMatch(/^duplicate delivery of event .*: job already queued$/);
    expect(await allJobs()).toHaveLength(1);
  });

  it('a different event for the same repo/reference/destination while queued is coalesced', async () => {
    const manifest = captured('push-single-arch')[4]!;
    const repush = captured('push-single-arch-again').at(-1)!;
    const first = await replay(h, manifest);
    const second = await replay(h, repush);
    const [a] = first.body.jobs as Array<{ id: string }>;
    expect(second.status).toBe(202);
    expect(second.body.jobs).toEqual([expect.objectContaining({ id: a!.id, reason: `duplicate of queued job ${a!.id}` })]);
    expect(await allJobs()).toHaveLength(1);
  });

  it('counts requests by registry and status, and created jobs', async () => {
    for (const req of captured('push-single-arch')) await replay(h, req);
    await h.ingest(request('nope', {}));
    const text = await h.metrics.text();
    expect(text).toMatch(/ferry_webhook_requests_total\{registry="src",status="200"\} 4/);
    expect(text).toMatch(/ferry_webhook_requests_total\{registry="src",status="202"\} 1/);
    expect(text).toMatch(/ferry_webhook_requests_total\{registry="\(unknown\)",status="404"\} 1/);
    expect(text).toMatch(/ferry_jobs_enqueued_total\{trigger="event"\} 1/);
  });
});

describe('requests that are not accepted', () => {
  const auth = { headers: bearer(DIST_SECRET) };

  it('404 for an unknown registry, and for paths that are not webhooks', async () => {
    expect(await h.ingest(request('nope', { events: [] }, auth))).toEqual({ status: 404, body: { error: 'unknown registry', detail: 'no registry named "nope" is configured' } });
    expect((await h.ingest(request('src', {}, { ...auth, path: '/webhooks/src/extra' }))).status).toBe(404);
    expect((await h.ingest(request('src', {}, { ...auth, path: '/webhooks/%E0%A4%A' }))).status).toBe(404);
    // Names are looked up as own keys only.
    expect((await h.ingest(request('__proto__', {}, auth))).status).toBe(404);
    expect((await h.ingest(request('constructor', {}, auth))).status).toBe(404);
  });

  it('405 with Allow: POST for other methods', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'HEAD']) {
      const res = await h.ingest(request('src', '', { ...auth, method }));
      expect(res.status).toBe(405);
      expect(res.headers).toEqual({ allow: 'POST' });
      expect(res.body.error).toBe('method not allowed');
    }
  });

  it('413 for a body over 1 MiB, whatever it contains', async () => {
    const big = Buffer.alloc(MAX_WEBHOOK_BODY_BYTES + 1, 0x20);
    expect(await h.ingest(request('src', big, auth))).toEqual({ status: 413, body: { error: 'payload too large', detail: 'webhook bodies are limited to 1048576 bytes' } });
    const exactly = Buffer.from(JSON.stringify({ events: [] }).padEnd(MAX_WEBHOOK_BODY_BYTES, ' '));
    expect((await h.ingest(request('src', exactly, auth))).status).toBe(200);
  });

  it('400 with the reason for bodies no real sender produces', async () => {
    const cases: Array<[string, string | object, RegExp]> = [
      ['invalid JSON', '{"events": [', /JSON/i],
      ['wrong types', { events: 'push' }, /events/],
      ['missing repository', { events: [{ id: 'x', action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', tag: 'v1', digest: `sha256:${'a'.repeat(64)}` } }] }, /repository/],
      ['path traversal', { events: [{ id: 'x', action: 'push', target: { repository: '../../etc', tag: 'v1' } }] }, /repository/],
      ['900-char tag', { events: [{ id: 'x', action: 'push', target: { repository: 'team/app', tag: 'v'.repeat(900) } }] }, /tag/],
    ];
    for (const [what, body, reason] of cases) {
      const res = await h.ingest(request('src', body, auth));
      expect(res.status, what).toBe(400);
      expect(Object.keys(res.body).sort(), what).toEqual(['detail', 'error']);
      expect(`${String(res.body.error)} ${String(res.body.detail)}`, what).toMatch(reason);
    }
    expect(await allJobs()).toEqual([]);
  });

  it('503 when the queue or store is unavailable, so the sender retries', async () => {
    await h.backend.close();
    const res = await replay(h, captured('push-single-arch')[4]!);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'queue unavailable', detail: expect.any(String) });
    // What does not need the backend still answers normally.
    expect((await replay(h, captured('push-single-arch')[0]!)).status).toBe(200);
  });

  it('a bug (a parser crashing with a TypeError) is a 500 JSON body without a stack trace, never a throw', async () => {
    const crashing = createIngest({
      config: h.config, queue: h.backend.queue, store: h.backend.store, metrics: h.metrics,
      parserFor: () => () => { throw new TypeError("Cannot read properties of undefined (reading 'x')"); },
    });
    const res = await crashing(captured('push-single-arch')[4]!);
    expect(res).toEqual({ status: 500, body: { error: 'internal error' } });
  });
});

describe('a destination template that cannot render the event', () => {
  it('is reported in the response and logged at warn, not dropped silently with a 202', async () => {
    const long = `${'x'.repeat(200)}/{repository}`;
    const hh = await openHarness(`
registries:
  src: { url: https://src.example.com, webhook: { secret: ${DIST_SECRET} } }
  dr: { url: https://dr.example.com }
policies:
  - { name: two, source: src, destinations: [{ registry: dr, repository: "m/{repository}" }, { registry: dr, repository: "${long}" }] }
`);
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString('utf8')); done(); } }) });
    const ingest = createIngest({ config: hh.config, queue: hh.backend.queue, store: hh.backend.store, logger });
    try {
      const repository = `team/${'a'.repeat(60)}`;
      const event = { id: 'ev-long', timestamp: new Date().toISOString(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'c'.repeat(64)}`, repository, tag: 'v1' } };
      const res = await ingest(request('src', { events: [event] }, { headers: bearer(DIST_SECRET) }));
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ accepted: 1, ignored: 1 });
      expect(res.body.warnings).toEqual([expect.stringMatching(new RegExp(`^push ${repository}:v1: policy two: destination dr: template .* invalid name`))]);
      const warned = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
      expect(warned.map((l) => l.msg)).toEqual(['webhook: destinations dropped, their repository template cannot render the event']);
    } finally {
      await hh.close();
    }
  });
});
