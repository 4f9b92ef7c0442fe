// The job runner on the real embedded backend. `replicate` is the seam the design gives the
// runner: here it is a real function that records what it did, or throws the errors the
// registry client throws.
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PermanentJobError } from '../../shared/replicate/errors.js';
import { createJobRunner, type JobRunnerOptions } from '../../shared/jobs/runner.js';
import { replayDeadJobs } from '../../shared/jobs/replay.js';
import type { Job } from '../../shared/jobs/model.js';
import type { JobQueue } from '../../shared/jobs/ports.js';
import { FerryMetrics } from '../../shared/observability/metrics.js';
import { DigestMismatchError, RegistryError, UnsupportedManifestError } from '../../shared/registry/errors.js';
import type { ReplicateJob } from '../../shared/replicate/types.js';
import { sleep } from '../contract/backend-contract.js';
import { copied, gate, openHarness, type Harness } from './harness.js';

let h: Harness;
let metrics: FerryMetrics;

beforeEach(() => {
  h = openHarness();
  metrics = new FerryMetrics();
});
afterEach(async () => {
  await h.close();
});

function runner(replicate: ReplicateJob<Job>, over: Partial<JobRunnerOptions> = {}) {
  return createJobRunner({
    queue: h.queue,
    store: h.store,
    replicate,
    maxAttempts: 3,
    retryDelayMs: 5000,
    visibilitySeconds: 60,
    clock: h.clock,
    metrics,
    random: () => 0.5,
    ...over,
  });
}

async function finished(status: string): Promise<number> {
  const m = await metrics.jobsFinished.get();
  return m.values.filter((v) => v.labels.status === status).reduce((n, v) => n + v.value, 0);
}

async function attempts(): Promise<number> {
  return (await metrics.jobAttempts.get()).values[0]?.value ?? 0;
}

const http503 = () => new RegistryError('HTTP 503 Service Unavailable from dr', { registry: 'dr', repository: 'mirror/team/app', reference: 'v1', status: 503, code: 'UNAVAILABLE' });

/** Runs a job through replicate calls that fail with the given errors, then succeed. */
function failing(...errors: Error[]): ReplicateJob<Job> & { calls: Job[] } {
  const calls: Job[] = [];
  const fn = async (job: Job) => {
    calls.push(job);
    const err = errors[calls.length - 1];
    if (err) throw err;
    return copied();
  };
  return Object.assign(fn, { calls });
}

describe('a successful run', () => {
  it('records the outcome, stats, timestamps and TTL, then acks', async () => {
    const job = await h.enqueueEvent();
    const replicate = failing();
    const result = await runner(replicate, { retentionMs: 7 * 24 * 3600 * 1000 }).handle(await h.receiveOne());
    expect(result).toBe('succeeded');
    expect(replicate.calls.map((j) => [j.id, j.status, j.attempts])).toEqual([[job.id, 'running', 1]]);
    const stored = await h.store.get(job.id);
    const now = h.clock.now();
    expect(stored).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      startedAt: now.toISOString(),
      finishedAt: now.toISOString(),
      outcome: { action: 'copied', digest: `sha256:${'c'.repeat(64)}` },
      stats: { manifests: 1, bytes: 100 },
      expiresAt: Math.floor(now.getTime() / 1000) + 7 * 24 * 3600,
    });
    expect(await h.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
    expect(await finished('succeeded')).toBe(1);
    expect(await attempts()).toBe(1);
    expect((await metrics.bytesCopied.get()).values[0]?.value).toBe(100);
  });

  it('a skipped outcome ends the job as skipped, with the reason', async () => {
    const job = await h.enqueueEvent();
    const result = await runner(async () => ({ action: 'skipped', reason: 'destination already at sha256:abc', stats: copied(0).stats })).handle(await h.receiveOne());
    expect(result).toBe('skipped');
    expect(await h.store.get(job.id)).toMatchObject({ status: 'skipped', outcome: { action: 'skipped', reason: 'destination already at sha256:abc' } });
  });

  it('defaults the TTL to 30 days', async () => {
    const job = await h.enqueueEvent();
    await runner(failing()).handle(await h.receiveOne());
    expect((await h.store.get(job.id))?.expiresAt).toBe(Math.floor(h.clock.now().getTime() / 1000) + 30 * 24 * 3600);
  });

  it('acks and ignores a message whose job is unknown (purged) or already terminal', async () => {
    await h.queue.send([{ jobId: 'no-such-job', key: 'k' }]);
    const replicate = failing();
    expect(await runner(replicate).handle(await h.receiveOne())).toBe('duplicate');
    const job = await h.enqueueEvent();
    await h.queue.send([{ jobId: job.id, key: job.key }]); // a duplicate delivery
    expect(await runner(replicate).handle(await h.receiveOne())).toBe('succeeded');
    expect(await runner(replicate).handle(await h.receiveOne())).toBe('duplicate');
    expect(replicate.calls).toHaveLength(1);
    expect(await h.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
  });
});

describe('transient failures', () => {
  it('retry with backoff: status failed, error recorded, message hidden until the delay passes', async () => {
    const job = await h.enqueueEvent();
    const replicate = failing(http503());
    const r = runner(replicate);
    expect(await r.handle(await h.receiveOne())).toBe('retry');
    expect(await h.store.get(job.id)).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: { message: 'HTTP 503 Service Unavailable from dr', status: 503, registry: 'dr', code: 'UNAVAILABLE', transient: true },
      // Shown by `ferry job` and the API: when the message becomes receivable again.
      nextAttemptAt: new Date(h.clock.now().getTime() + 4000).toISOString(),
    });
    // Equal jitter with random 0.5: 5 s * (1/2 + 0.5/2) = 3.75 s -> 4 s of invisibility.
    h.clock.advance(3000);
    expect(await h.queue.receive(1, 60, 0)).toEqual([]);
    h.clock.advance(1000);
    const again = await h.receiveOne();
    expect(again.receiveCount).toBe(2);
    expect(await r.handle(again)).toBe('succeeded');
    const done = await h.store.get(job.id);
    // Success clears the current error; the attempt history keeps each run's outcome.
    expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(done?.lastError).toBeUndefined();
    expect(done?.history).toMatchObject([
      { attempt: 1, outcome: 'failed', error: { status: 503 } },
      { attempt: 2, outcome: 'succeeded', bytes: 100 },
    ]);
    expect(done?.history?.[0]?.finishedAt).toBeDefined();
    expect(done?.nextAttemptAt).toBeUndefined();
    expect(await finished('failed')).toBe(1);
    expect(await finished('succeeded')).toBe(1);
  });

  it('backoff doubles per attempt', async () => {
    await h.enqueueEvent();
    const r = runner(failing(http503(), http503(), http503(), http503()), { maxAttempts: 10, jitter: 'none', retryDelayMs: 2000 });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      expect(await r.handle(await h.receiveOne())).toBe('retry');
      let waited = 0;
      while ((await h.queue.depth()).inFlight > 0) { h.clock.advance(500); waited += 500; }
      delays.push(waited);
    }
    expect(delays).toEqual([2000, 4000, 8000, 16000]);
  });

  it('honours the registry\'s Retry-After when it is longer than the backoff', async () => {
    await h.enqueueEvent();
    const tooMany = new RegistryError('HTTP 429 Too Many Requests', { registry: 'src', status: 429, code: 'TOOMANYREQUESTS', retryAfterMs: 120_000 });
    const r = runner(failing(tooMany));
    expect(await r.handle(await h.receiveOne())).toBe('retry');
    h.clock.advance(119_000);
    expect(await h.queue.receive(1, 60, 0)).toEqual([]);
    h.clock.advance(1000);
    expect(await r.handle(await h.receiveOne())).toBe('succeeded');
  });

  it('caps a Retry-After of 99999999 s at 15 minutes', async () => {
    await h.enqueueEvent();
    const parked = new RegistryError('HTTP 429 Too Many Requests', { registry: 'src', status: 429, code: 'TOOMANYREQUESTS', retryAfterMs: 99_999_999_000 });
    const r = runner(failing(parked));
    expect(await r.handle(await h.receiveOne())).toBe('retry');
    h.clock.advance(15 * 60_000 - 1000);
    expect(await h.queue.receive(1, 60, 0)).toEqual([]);
    h.clock.advance(1000);
    expect(await r.handle(await h.receiveOne())).toBe('succeeded');
  });

  it.each([
    ['a digest mismatch (corrupted transfer)', () => new DigestMismatchError('blob sha256:abc hashed to sha256:def', { registry: 'src', code: 'DIGEST_MISMATCH' })],
    ['an unknown error', () => new Error('something odd')],
    ['a timeout', () => Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })],
  ])('%s is transient', async (_name, make) => {
    const job = await h.enqueueEvent();
    expect(await runner(failing(make())).handle(await h.receiveOne())).toBe('retry');
    expect((await h.store.get(job.id))?.lastError?.transient).toBe(true);
  });

  it('a refused connection (real socket error) is transient', async () => {
    // Find a port nobody listens on, then fetch from it: the real socket error.
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    const job = await h.enqueueEvent();
    const result = await runner(async () => {
      await fetch(`http://127.0.0.1:${port}/v2/`);
      return copied();
    }).handle(await h.receiveOne());
    expect(result).toBe('retry');
    expect((await h.store.get(job.id))?.lastError).toMatchObject({ code: 'ECONNREFUSED', transient: true });
  });

  it('exhausted attempts end dead, in the DLQ, with the last error', async () => {
    const job = await h.enqueueEvent();
    const r = runner(failing(http503(), http503(), http503()), { maxAttempts: 3 });
    const results: string[] = [];
    for (let i = 0; i < 3; i++) {
      results.push(await r.handle(await h.receiveOne()));
      h.clock.advance(15 * 60_000);
    }
    expect(results).toEqual(['retry', 'retry', 'dead']);
    const stored = await h.store.get(job.id);
    expect(stored).toMatchObject({ status: 'dead', attempts: 3, lastError: { status: 503, transient: true } });
    expect(stored?.expiresAt).toBeGreaterThan(0);
    const dead = await h.queue.listDead();
    expect(dead.map((d) => d.message.jobId)).toEqual([job.id]);
    expect(dead[0]!.reason).toMatch(/^attempts exhausted \(3\/3\): HTTP 503/);
    expect(await h.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 1 });
    expect(await finished('dead')).toBe(1);
  });
});

describe('permanent failures', () => {
  it.each([
    ['401 (credentials already refreshed)', () => new RegistryError('HTTP 401 from src', { registry: 'src', status: 401, code: 'UNAUTHORIZED' })],
    ['403', () => new RegistryError('HTTP 403 from dr', { registry: 'dr', status: 403, code: 'DENIED' })],
    ['404 manifest unknown (push-only policy)', () => new RegistryError('manifest unknown', { registry: 'src', status: 404, code: 'MANIFEST_UNKNOWN' })],
    ['an unsupported manifest (schema1)', () => new UnsupportedManifestError('schema1 manifests are not supported', { registry: 'src', code: 'UNSUPPORTED_MANIFEST' })],
    ['a PermanentJobError', () => new PermanentJobError('policy "mirror" no longer exists')],
  ])('%s dead-letters at once', async (_name, make) => {
    const job = await h.enqueueEvent();
    const replicate = failing(make());
    expect(await runner(replicate, { maxAttempts: 5 }).handle(await h.receiveOne())).toBe('dead');
    expect(await h.store.get(job.id)).toMatchObject({ status: 'dead', attempts: 1, lastError: { transient: false } });
    const [letter] = await h.queue.listDead();
    expect(letter?.reason).toMatch(/^permanent error: /);
    expect(replicate.calls).toHaveLength(1);
  });
});

describe('replay', () => {
  it('a replayed dead job runs again and succeeds; attempts reset, replay recorded, error moved to the history, trigger kept', async () => {
    const job = await h.enqueueEvent();
    const replicate = failing(new RegistryError('HTTP 403', { registry: 'dr', status: 403 }));
    const r = runner(replicate);
    expect(await r.handle(await h.receiveOne())).toBe('dead');
    h.clock.advance(60_000);
    expect(await replayDeadJobs({ queue: h.queue, store: h.store, clock: h.clock }, { all: true }, 'admin')).toEqual([job.id]);
    const queued = await h.store.get(job.id);
    expect(queued).toMatchObject({ status: 'queued', attempts: 0, trigger: job.trigger, replays: [{ at: h.clock.now().toISOString(), by: 'admin' }] });
    expect(queued?.lastError).toBeUndefined();
    expect(queued?.history).toMatchObject([{ attempt: 1, outcome: 'dead', error: { status: 403 } }]);
    expect(queued?.expiresAt).toBeUndefined();
    expect(await r.handle(await h.receiveOne())).toBe('succeeded');
    const done = await h.store.get(job.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, history: [{ outcome: 'dead' }, { attempt: 1, outcome: 'succeeded' }] });
    expect(done?.lastError).toBeUndefined();
    expect(await h.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
  });
});

describe('crashes (at-least-once delivery)', () => {
  it('a worker that finished but died before acking: the redelivery completes nothing twice', async () => {
    const job = await h.enqueueEvent();
    const replicate = failing();
    // The first worker's process dies right after the record is written: its ack never happens.
    const lostAck: JobQueue = { ...h.queue, ack: async () => {} };
    expect(await createJobRunner({ queue: lostAck, store: h.store, replicate, maxAttempts: 3, retryDelayMs: 1000, visibilitySeconds: 30, clock: h.clock, metrics }).handle(await h.receiveOne(30))).toBe('succeeded');
    h.clock.advance(31_000);
    const redelivered = await h.receiveOne();
    expect(redelivered.receiveCount).toBe(2);
    expect(await runner(replicate).handle(redelivered)).toBe('duplicate');
    expect(replicate.calls).toHaveLength(1);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(await finished('succeeded')).toBe(1);
    expect(await h.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
  });

  it('a worker that stalled mid-copy: after its visibility expires another worker takes over; the stalled one cannot record a second result', async () => {
    const job = await h.enqueueEvent();
    const stall = gate();
    const calls: string[] = [];
    const started = gate();
    const stalled = runner(async () => { calls.push('stalled'); started.open(); await stall.promise; return copied(); }, { visibilitySeconds: 30, heartbeatMs: 3_600_000 });
    const stalledRun = stalled.handle(await h.receiveOne(30));
    await started.promise;
    expect((await h.store.get(job.id))?.status).toBe('running');

    h.clock.advance(31_000);
    const other = h.reopen(); // another worker process
    const [again] = await other.queue.receive(1, 30, 0);
    expect(again?.message.jobId).toBe(job.id);
    const taker = createJobRunner({ queue: other.queue, store: other.store, replicate: async () => { calls.push('taker'); return copied(); }, maxAttempts: 3, retryDelayMs: 1000, visibilitySeconds: 30, clock: h.clock, metrics });
    expect(await taker.handle(again!)).toBe('succeeded');

    stall.open();
    expect(await stalledRun).toBe('duplicate');
    expect(calls).toEqual(['stalled', 'taker']);
    expect(await h.store.get(job.id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(await finished('succeeded')).toBe(1);
    expect(await h.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
  });

  it('a long run keeps its message invisible by heartbeat', async () => {
    await h.enqueueEvent();
    const other = h.reopen();
    const seenByOthers: number[] = [];
    const r = runner(async () => {
      for (let i = 0; i < 4; i++) {
        h.clock.advance(6_000); // 24 s in all: far past the 10 s visibility
        await sleep(120); // heartbeats (every 40 ms) extend it meanwhile
        seenByOthers.push((await other.queue.receive(10, 10, 0)).length);
      }
      return copied();
    }, { visibilitySeconds: 10, heartbeatMs: 40 });
    expect(await r.handle(await h.receiveOne(10))).toBe('succeeded');
    expect(seenByOthers).toEqual([0, 0, 0, 0]);
  });

  it('shutdown (abort) releases the job at once without counting the attempt', async () => {
    const job = await h.enqueueEvent();
    const ac = new AbortController();
    const started = gate();
    const r = runner(async (_job, { signal }) => {
      const aborted = new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
      started.open();
      await aborted;
      return copied();
    });
    const run = r.handle(await h.receiveOne(), ac.signal);
    await started.promise;
    ac.abort(new Error('SIGTERM'));
    expect(await run).toBe('retry');
    expect(await h.store.get(job.id)).toMatchObject({ status: 'queued', attempts: 0 });
    expect(await runner(failing()).handle(await h.receiveOne())).toBe('succeeded');
  });
});

describe('one key, one run at a time', () => {
  it('a newer event for a running job\'s key waits (deferred) and runs after the first finishes', async () => {
    const first = await h.enqueueEvent('v1', 'evt-1');
    const release = gate();
    const running = new Set<string>();
    const order: string[] = [];
    let overlap = false;
    const replicate: ReplicateJob<Job> = async (job) => {
      if (running.has(job.key)) overlap = true;
      running.add(job.key);
      order.push(job.id);
      if (job.id === first.id) {
        firstStarted.open();
        await release.promise;
      }
      running.delete(job.key);
      return copied();
    };
    const firstStarted = gate();
    const r = runner(replicate, { deferSeconds: 2 });
    const firstRun = r.handle(await h.receiveOne());
    await firstStarted.promise;
    // The tag moves while the first copy runs: a new job (not coalesced: the first is running).
    const second = await h.enqueueEvent('v1', 'evt-2');
    expect(second.id).not.toBe(first.id);
    expect(second.status).toBe('queued');
    expect(await r.handle(await h.receiveOne())).toBe('deferred');
    expect((await h.store.get(second.id))?.attempts).toBe(0); // deferral is not an attempt
    release.open();
    expect(await firstRun).toBe('succeeded');
    h.clock.advance(2000);
    expect(await r.handle(await h.receiveOne())).toBe('succeeded');
    expect(order).toEqual([first.id, second.id]);
    expect(overlap).toBe(false);
    expect(await h.store.get(second.id)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('two deliveries of the same job at once: one runs, the other is deferred and then dropped', async () => {
    const job = await h.enqueueEvent();
    await h.queue.send([{ jobId: job.id, key: job.key }]);
    const release = gate();
    let calls = 0;
    const started = gate();
    const r = runner(async () => { calls++; started.open(); await release.promise; return copied(); }, { deferSeconds: 1 });
    const [a, b] = await h.queue.receive(2, 60, 0);
    const runA = r.handle(a!);
    await started.promise;
    expect(await r.handle(b!)).toBe('deferred');
    release.open();
    expect(await runA).toBe('succeeded');
    h.clock.advance(1000);
    expect(await r.handle(await h.receiveOne())).toBe('duplicate');
    expect(calls).toBe(1);
  });

  it('many workers on two connections, many events for few keys: never two runs of one key at once, every key ends converged', async () => {
    const keys = ['a', 'b', 'c'];
    let producing = true;
    // Events keep arriving while jobs run, so new jobs for running keys are created.
    const producer = (async () => {
      for (let i = 0; i < 40; i++) {
        await h.enqueueEvent(keys[i % keys.length], `evt-${i}`);
        await sleep(2);
      }
      producing = false;
    })();
    const active = new Map<string, number>();
    let maxActive = 0;
    const replicate: ReplicateJob<Job> = async (job) => {
      const n = (active.get(job.key) ?? 0) + 1;
      active.set(job.key, n);
      maxActive = Math.max(maxActive, n);
      await sleep(20);
      active.set(job.key, n - 1);
      return copied();
    };
    const other = h.reopen();
    const loops = [h, other, h, other].map(async (b) => {
      const r = createJobRunner({ queue: b.queue, store: b.store, replicate, maxAttempts: 3, retryDelayMs: 1000, visibilitySeconds: 60, clock: h.clock, deferSeconds: 0 });
      for (let idle = 0; producing || idle < 20;) {
        const got = await b.queue.receive(1, 60, 0);
        if (got.length === 0) { idle++; await sleep(5); continue; }
        idle = 0;
        await r.handle(got[0]!);
      }
    });
    await Promise.all([producer, ...loops]);
    const { jobs } = await h.store.list({ limit: 1000 });
    expect(maxActive).toBe(1);
    expect(jobs.length).toBeGreaterThan(keys.length); // some events did arrive while their key ran
    expect(jobs.every((j) => j.status === 'succeeded')).toBe(true);
    expect(await h.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
  });
});

describe('worker.jobTimeout', () => {
  /** Runs until its signal fires, like a copy stuck on a trickling source. */
  const untilAborted: ReplicateJob<Job> = (_job, { signal }) => new Promise((_resolve, reject) => {
    signal!.addEventListener('abort', () => reject(new RegistryError('GET blob cut', { registry: 'src', code: 'NETWORK', cause: signal!.reason })), { once: true });
  });

  it('cuts a run at the deadline and records a transient JOB_TIMEOUT failure, then dead-letters with that reason', async () => {
    const job = await h.enqueueEvent();
    const r = runner(untilAborted, { jobTimeoutMs: 200, maxAttempts: 2, retryDelayMs: 0 });
    const started = Date.now();
    expect(await r.handle(await h.receiveOne())).toBe('retry');
    expect(Date.now() - started).toBeLessThan(2000);
    const failed = await h.store.get(job.id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'JOB_TIMEOUT', transient: true } });
    expect(failed!.lastError!.message).toMatch(/exceeded worker.jobTimeout \(200ms\) \(cut while: GET blob cut\)/);

    h.clock.advance(60_000);
    expect(await r.handle(await h.receiveOne())).toBe('dead');
    const dead = await h.store.get(job.id);
    expect(dead).toMatchObject({ status: 'dead', attempts: 2, lastError: { code: 'JOB_TIMEOUT' } });
    const [letter] = await h.queue.listDead();
    expect(letter?.reason).toMatch(/^attempts exhausted \(2\/2\): job attempt exceeded worker.jobTimeout/);
  });

  it('stops waiting for a run that ignores its signal once the grace after the deadline is over', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      const job = await h.enqueueEvent();
      const received = await h.receiveOne();
      const never: ReplicateJob<Job> = () => new Promise(() => undefined);
      const result = runner(never, { jobTimeoutMs: 1000 }).handle(received);
      await vi.advanceTimersByTimeAsync(1000 + 15_000);
      expect(await result).toBe('retry');
      expect(await h.store.get(job.id)).toMatchObject({ status: 'failed', lastError: { code: 'JOB_TIMEOUT', transient: true } });
    } finally {
      vi.useRealTimers();
    }
  });
});
