// The contract every backend (embedded SQLite, AWS SQS + DynamoDB) must meet. It is a
// function, not a test file, so each adapter's test file runs the same specification:
//
//   describeBackendContract('embedded', async () => ({ ...openEmbeddedBackend(...), clock }));
//
// Timing: adapters on a manual clock (`clock.advance`) run instantly; adapters on real time
// (AWS emulators with one-second granularity) get real sleeps, visibility of 1-2 s, and
// polling with generous deadlines.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enqueue, type JobSpec } from '../../shared/jobs/enqueue.js';
import { createJobRunner } from '../../shared/jobs/runner.js';
import { jobKey, type Job, type JobMessage } from '../../shared/jobs/model.js';
import { InvalidCursorError, type Backend, type JobQueue, type ReceivedMessage } from '../../shared/jobs/ports.js';
import { DELIVERY_LIMITS } from '../../shared/jobs/control-ports.js';

export interface ContractSubject extends Backend {
  /** Manual clock driving the adapter: the suite advances it instead of sleeping. */
  clock?: { advance(ms: number): void; now(): Date };
  /**
   * A second, independent connection to the same state (what another process sees).
   * Used by the concurrency tests; without it they use the one connection.
   */
  reopen?: () => Promise<Backend>;
}

export interface ContractOptions {
  /** Per-test timeout; real-time adapters need more. Default 30 s. */
  timeoutMs?: number;
}

/** `open` must return a backend with an empty queue, DLQ and store, closed by `close()`. */
export function describeBackendContract(name: string, open: () => Promise<ContractSubject>, options: ContractOptions = {}): void {
  const timeout = options.timeoutMs ?? 30_000;

  describe(`backend contract: ${name}`, () => {
    let b: ContractSubject;
    const extra: Backend[] = [];

    beforeEach(async () => {
      b = await open();
    });
    afterEach(async () => {
      for (const e of extra.splice(0)) await e.close();
      await b?.close();
    });

    /** Lets time pass: on the manual clock instantly, else for real. */
    async function elapse(ms: number): Promise<void> {
      if (b.clock) b.clock.advance(ms);
      else await sleep(ms);
    }

    /** Receives until `count` messages arrived (or the deadline passed); returns what arrived. */
    async function receiveUntil(queue: JobQueue, count: number, visibilitySeconds: number, deadlineMs = 10_000): Promise<ReceivedMessage[]> {
      const got: ReceivedMessage[] = [];
      const end = Date.now() + deadlineMs;
      while (got.length < count && Date.now() < end) {
        got.push(...(await queue.receive(Math.min(10, count - got.length), visibilitySeconds, 1)));
      }
      return got;
    }

    function message(jobId = randomUUID(), key = `p|dst|repo|${jobId}`): JobMessage {
      return { jobId, key };
    }

    describe('queue', () => {
      it('delivers a sent message with a receipt and a receive count of 1', async () => {
        const m = message();
        await b.queue.send([m]);
        const got = await receiveUntil(b.queue, 1, 30);
        expect(got).toHaveLength(1);
        expect(got[0]!.message).toEqual(m);
        expect(got[0]!.receiveCount).toBe(1);
        expect(typeof got[0]!.receipt).toBe('string');
        expect(got[0]!.receipt.length).toBeGreaterThan(0);
      }, timeout);

      it('returns nothing from an empty queue', async () => {
        expect(await b.queue.receive(10, 30, 0)).toEqual([]);
      }, timeout);

      it('hides a received message until its visibility timeout expires, then redelivers it with a new receipt', async () => {
        const m = message();
        await b.queue.send([m]);
        const [first] = await receiveUntil(b.queue, 1, 1);
        expect(first).toBeDefined();
        expect(await b.queue.receive(10, 1, 0)).toEqual([]);
        await elapse(1500);
        const [second] = await receiveUntil(b.queue, 1, 30);
        expect(second?.message).toEqual(m);
        expect(second!.receiveCount).toBe(2);
        expect(second!.receipt).not.toBe(first!.receipt);
      }, timeout);

      it('acknowledging deletes the message for good', async () => {
        await b.queue.send([message()]);
        const [r] = await receiveUntil(b.queue, 1, 1);
        await b.queue.ack(r!.receipt);
        await elapse(1500);
        expect(await b.queue.receive(10, 30, 1)).toEqual([]);
        const depth = await b.queue.depth();
        expect(depth.queued + depth.inFlight).toBe(0);
      }, timeout);

      it('tolerates acknowledging with a stale receipt (after redelivery)', async () => {
        await b.queue.send([message()]);
        const [first] = await receiveUntil(b.queue, 1, 1);
        await elapse(1500);
        const [second] = await receiveUntil(b.queue, 1, 30);
        expect(second).toBeDefined();
        await expect(b.queue.ack(first!.receipt)).resolves.toBeUndefined();
        await b.queue.ack(second!.receipt);
      }, timeout);

      it('delays a message sent with delaySeconds', async () => {
        const m = message();
        await b.queue.send([m], 2);
        expect(await b.queue.receive(10, 30, 0)).toEqual([]);
        await elapse(2500);
        const got = await receiveUntil(b.queue, 1, 30);
        expect(got.map((r) => r.message)).toEqual([m]);
      }, timeout);

      it('receives at most max messages per call', async () => {
        await b.queue.send(Array.from({ length: 5 }, () => message()));
        await elapse(100);
        const got = await b.queue.receive(3, 30, 1);
        expect(got.length).toBeGreaterThan(0);
        expect(got.length).toBeLessThanOrEqual(3);
      }, timeout);

      it('sends batches larger than any adapter limit (30 messages) and delivers each exactly once', async () => {
        const sent = Array.from({ length: 30 }, () => message());
        await b.queue.send(sent);
        const got = await receiveUntil(b.queue, 30, 60, 20_000);
        const ids = got.map((r) => r.message.jobId);
        expect(new Set(ids).size).toBe(ids.length);
        expect([...ids].sort()).toEqual(sent.map((m) => m.jobId).sort());
        // Nothing more: every message was delivered once and is still invisible.
        expect(await b.queue.receive(10, 60, 0)).toEqual([]);
      }, timeout);

      it('retryLater hides the message for the delay, then redelivers it', async () => {
        const m = message();
        await b.queue.send([m]);
        const [r] = await receiveUntil(b.queue, 1, 30);
        await b.queue.retryLater(r!.receipt, 2);
        expect(await b.queue.receive(10, 30, 0)).toEqual([]);
        await elapse(2500);
        const [again] = await receiveUntil(b.queue, 1, 30);
        expect(again?.message).toEqual(m);
        expect(again!.receiveCount).toBe(2);
      }, timeout);

      it('retryLater with 0 releases the message at once', async () => {
        const m = message();
        await b.queue.send([m]);
        const [r] = await receiveUntil(b.queue, 1, 60);
        await b.queue.retryLater(r!.receipt, 0);
        const [again] = await receiveUntil(b.queue, 1, 60);
        expect(again?.message).toEqual(m);
      }, timeout);

      it('requeue brings the message back after the delay without counting the delivery', async () => {
        const m = message();
        await b.queue.send([m]);
        const [r] = await receiveUntil(b.queue, 1, 30);
        expect(r!.receiveCount).toBe(1);
        await b.queue.requeue(r!.receipt, m, 2);
        expect(await b.queue.receive(10, 30, 0)).toEqual([]);
        await elapse(2500);
        const [again] = await receiveUntil(b.queue, 1, 30);
        expect(again?.message).toEqual(m);
        // Deferrals are not deliveries: the redrive policy only ever sees runs.
        expect(again!.receiveCount).toBe(1);
        await b.queue.ack(again!.receipt);
        const depth = await b.queue.depth();
        expect(depth.queued + depth.inFlight).toBe(0);
      }, timeout);

      it('retryLater extends visibility and keeps the receipt valid (heartbeat), so ack still deletes', async () => {
        await b.queue.send([message()]);
        const [r] = await receiveUntil(b.queue, 1, 1);
        await b.queue.retryLater(r!.receipt, 30);
        await elapse(1500);
        expect(await b.queue.receive(10, 30, 1)).toEqual([]);
        await b.queue.ack(r!.receipt);
        const depth = await b.queue.depth();
        expect(depth.queued + depth.inFlight).toBe(0);
      }, timeout);

      it('dead-letters a received message with its reason, out of the main queue', async () => {
        const m = message();
        await b.queue.send([m]);
        const [r] = await receiveUntil(b.queue, 1, 1);
        await b.queue.deadLetter(r!.receipt, m, 'attempts exhausted: HTTP 503 from dst');
        await elapse(1500);
        expect(await b.queue.receive(10, 30, 1)).toEqual([]);
        const dead = await b.queue.listDead();
        expect(dead).toHaveLength(1);
        expect(dead[0]!.message).toEqual(m);
        expect(dead[0]!.reason).toBe('attempts exhausted: HTTP 503 from dst');
        expect(typeof dead[0]!.id).toBe('string');
        // Listing is not destructive.
        expect(await b.queue.listDead()).toHaveLength(1);
        expect((await b.queue.depth()).dead).toBe(1);
      }, timeout);

      async function deadLetterAll(messages: JobMessage[]): Promise<void> {
        await b.queue.send(messages);
        const got = await receiveUntil(b.queue, messages.length, 60);
        expect(got).toHaveLength(messages.length);
        for (const r of got) await b.queue.deadLetter(r.receipt, r.message, 'test');
        expect(await b.queue.listDead()).toHaveLength(messages.length);
      }

      it('replays all dead letters back to the queue with a fresh receive count', async () => {
        const ms = [message(), message(), message()];
        await deadLetterAll(ms);
        const replayed = await b.queue.replayDead({ all: true });
        expect([...replayed].sort()).toEqual(ms.map((m) => m.jobId).sort());
        expect(await b.queue.listDead()).toEqual([]);
        const got = await receiveUntil(b.queue, 3, 60);
        expect(got.map((r) => r.message.jobId).sort()).toEqual(ms.map((m) => m.jobId).sort());
        for (const r of got) expect(r.receiveCount).toBe(1);
      }, timeout);

      it('replays dead letters selected by job id, leaving the others', async () => {
        const ms = [message(), message(), message()];
        await deadLetterAll(ms);
        const replayed = await b.queue.replayDead({ jobIds: [ms[1]!.jobId] });
        expect(replayed).toEqual([ms[1]!.jobId]);
        const rest = await b.queue.listDead();
        expect(rest.map((d) => d.message.jobId).sort()).toEqual([ms[0]!.jobId, ms[2]!.jobId].sort());
        const got = await receiveUntil(b.queue, 1, 60);
        expect(got.map((r) => r.message)).toEqual([ms[1]]);
      }, timeout);

      it('replays dead letters selected by repository through the resolver', async () => {
        const ms = [message(), message(), message()];
        const repoOf = new Map([[ms[0]!.jobId, 'team/a'], [ms[1]!.jobId, 'team/b'], [ms[2]!.jobId, 'team/a']]);
        await deadLetterAll(ms);
        const replayed = await b.queue.replayDead({ repository: 'team/a' }, async (id) => repoOf.get(id));
        expect([...replayed].sort()).toEqual([ms[0]!.jobId, ms[2]!.jobId].sort());
        expect((await b.queue.listDead()).map((d) => d.message)).toEqual([ms[1]]);
        const got = await receiveUntil(b.queue, 2, 60);
        expect(got.map((r) => r.message.jobId).sort()).toEqual([ms[0]!.jobId, ms[2]!.jobId].sort());
      }, timeout);

      it('reports depth: queued, in flight and dead', async () => {
        await b.queue.send([message(), message(), message()]);
        const got = await receiveUntil(b.queue, 1, 60);
        expect(got).toHaveLength(1);
        await b.queue.deadLetter(got[0]!.receipt, got[0]!.message, 'test');
        const more = await receiveUntil(b.queue, 1, 60);
        expect(more).toHaveLength(1);
        const depth = await b.queue.depth();
        expect(depth).toEqual({ queued: 1, inFlight: 1, dead: 1 });
      }, timeout);

      it('never hands the same message to two concurrent receivers while it is invisible', async () => {
        const other = b.reopen ? await b.reopen() : b;
        if (other !== b) extra.push(other);
        const sent = Array.from({ length: 40 }, () => message());
        await b.queue.send(sent);
        await elapse(100);
        const seen: string[] = [];
        const loop = async (queue: JobQueue) => {
          let empty = 0;
          while (empty < 2 && seen.length < sent.length) {
            const got = await queue.receive(5, 120, 1);
            if (got.length === 0) empty++;
            for (const r of got) seen.push(r.message.jobId);
          }
        };
        await Promise.all([loop(b.queue), loop(other.queue)]);
        expect(new Set(seen).size).toBe(seen.length);
        expect([...seen].sort()).toEqual(sent.map((m) => m.jobId).sort());
      }, timeout);
    });

    describe('store', () => {
      const base = Date.parse('2026-03-01T00:00:00.000Z');

      function job(over: Partial<Job> & { repository?: string; reference?: string; minute?: number } = {}): Job {
        const { repository = 'team/app', reference = 'v1', minute = 0, ...rest } = over;
        const policy = rest.policy ?? 'mirror';
        const destination = rest.destination ?? { registry: 'dr', repository: `mirror/${repository}` };
        const at = new Date(base + minute * 60_000).toISOString();
        return {
          id: randomUUID(),
          key: jobKey(policy, destination, reference),
          policy,
          source: { registry: 'src', repository, reference },
          destination,
          trigger: { kind: 'event', eventId: randomUUID(), at, action: 'push' },
          status: 'queued',
          attempts: 0,
          createdAt: at,
          updatedAt: at,
          ...rest,
        };
      }

      it('keeps the attempt history and a cancel request through transitions, and lists paused and cancelled jobs by status', async () => {
        const j = job();
        await b.store.create(j);
        const started = await b.store.transition(j.id, ['queued'], { status: 'running', attempts: 1, startedAt: '2026-03-01T00:01:00.000Z' });
        const asked = await b.store.transition(j.id, ['running'], { status: 'running', cancelRequested: { at: '2026-03-01T00:01:30.000Z', by: 'alice' } });
        expect(asked?.cancelRequested).toEqual({ at: '2026-03-01T00:01:30.000Z', by: 'alice' });
        const history = [{ attempt: 1, startedAt: started!.startedAt!, finishedAt: '2026-03-01T00:02:00.000Z', outcome: 'cancelled' as const, error: { message: 'cancelled by alice', code: 'CANCELLED', transient: false } }];
        await b.store.transition(j.id, ['running'], { status: 'cancelled', history, cancelRequested: undefined });
        const stored = await b.store.get(j.id);
        expect(stored?.history).toEqual(history);
        expect(stored?.cancelRequested).toBeUndefined();
        expect((await b.store.list({ status: 'cancelled' })).jobs.map((x) => x.id)).toEqual([j.id]);
        const p = job({ reference: 'v2' });
        await b.store.create(p);
        await b.store.transition(p.id, ['queued'], { status: 'paused' });
        expect((await b.store.list({ status: 'paused', policy: 'mirror' })).jobs.map((x) => x.id)).toEqual([p.id]);
      }, timeout);

      it('stores and returns a job exactly as created', async () => {
        const j = job({ source: { registry: 'src', repository: 'team/app', reference: 'v1', digest: `sha256:${'a'.repeat(64)}` } });
        const res = await b.store.create(j);
        expect(res).toEqual({ job: j, created: true });
        expect(await b.store.get(j.id)).toEqual(j);
      }, timeout);

      it('returns undefined for an unknown id', async () => {
        expect(await b.store.get(randomUUID())).toBeUndefined();
      }, timeout);

      it('create is idempotent per id', async () => {
        const j = job();
        await b.store.create(j);
        const again = await b.store.create({ ...j, policy: 'changed' });
        expect(again.created).toBe(false);
        expect(again.job).toEqual(j);
      }, timeout);

      it('coalesces a new job onto the queued job with the same key', async () => {
        const first = job();
        await b.store.create(first);
        const second = job({ key: first.key, minute: 1 });
        const res = await b.store.create(second);
        expect(res.created).toBe(false);
        expect(res.job.id).toBe(first.id);
        expect(await b.store.get(second.id)).toBeUndefined();
      }, timeout);

      it('does not coalesce onto a running job: the newer event gets its own queued job', async () => {
        const first = job();
        await b.store.create(first);
        await b.store.transition(first.id, ['queued'], { status: 'running', attempts: 1 });
        const second = job({ key: first.key, minute: 1 });
        const res = await b.store.create(second);
        expect(res).toEqual({ job: second, created: true });
        // ... and that one absorbs the next.
        const third = await b.store.create(job({ key: first.key, minute: 2 }));
        expect(third.created).toBe(false);
        expect(third.job.id).toBe(second.id);
      }, timeout);

      it('concurrent creates with one key create exactly one job', async () => {
        const jobs = Array.from({ length: 10 }, () => job());
        const key = jobs[0]!.key;
        const results = await Promise.all(jobs.map((j) => b.store.create({ ...j, key })));
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
      }, timeout);

      it('createMany, where offered, equals creating each job in order', async () => {
        if (!b.store.createMany) return; // optional: enqueue() falls back to create()
        const existing = job({ reference: 'v0' });
        await b.store.create(existing);
        const a = job({ reference: 'v1' });
        const sameKeyAsA = job({ reference: 'v1', minute: 1 });
        const c = job({ reference: 'v2' });
        const results = await b.store.createMany([a, sameKeyAsA, { ...existing, policy: 'other' }, c]);
        expect(results).toEqual([
          { job: a, created: true },
          { job: a, created: false },
          { job: existing, created: false },
          { job: c, created: true },
        ]);
        expect(await b.store.get(sameKeyAsA.id)).toBeUndefined();
        expect(await b.store.get(c.id)).toEqual(c);
        expect(await b.store.createMany([])).toEqual([]);
      }, timeout);

      it('keys are independent: different references do not coalesce', async () => {
        const a = await b.store.create(job({ reference: 'v1' }));
        const c = await b.store.create(job({ reference: 'v2' }));
        expect(a.created && c.created).toBe(true);
      }, timeout);

      it('transition applies the patch only from an allowed status', async () => {
        const j = job();
        await b.store.create(j);
        const running = await b.store.transition(j.id, ['queued', 'failed'], { status: 'running', attempts: 1, startedAt: '2026-03-01T00:01:00.000Z' });
        expect(running).toMatchObject({ id: j.id, key: j.key, status: 'running', attempts: 1, startedAt: '2026-03-01T00:01:00.000Z' });
        // A stale writer that still believes the job is queued is rejected and changes nothing.
        expect(await b.store.transition(j.id, ['queued'], { status: 'dead' })).toBeUndefined();
        expect((await b.store.get(j.id))?.status).toBe('running');
        expect(await b.store.transition(randomUUID(), ['queued'], { status: 'running' })).toBeUndefined();
      }, timeout);

      it('transition stores every job field, updates updatedAt, and removes fields patched to undefined', async () => {
        const j = job();
        await b.store.create(j);
        const done = await b.store.transition(j.id, ['queued'], {
          status: 'succeeded',
          attempts: 2,
          finishedAt: '2026-03-01T00:05:00.000Z',
          outcome: { action: 'copied', digest: `sha256:${'b'.repeat(64)}` },
          stats: { manifests: 1, blobs: { copied: 2, skipped: 1, mounted: 0 }, bytes: 1234, ms: 56 },
          lastError: { message: 'HTTP 503', status: 503, registry: 'dr', transient: true },
          replays: [{ at: '2026-03-01T00:04:00.000Z', by: 'admin' }],
          expiresAt: 1_800_000_000,
        });
        expect(done).toBeDefined();
        const stored = await b.store.get(j.id);
        expect(stored).toEqual(done);
        expect(stored).toMatchObject({ status: 'succeeded', attempts: 2, expiresAt: 1_800_000_000, outcome: { action: 'copied' }, stats: { bytes: 1234 } });
        // The store stamps updatedAt with its own clock.
        expect(stored!.updatedAt).not.toBe(j.updatedAt);
        expect(Number.isFinite(Date.parse(stored!.updatedAt))).toBe(true);
        const requeued = await b.store.transition(j.id, ['succeeded'], { status: 'queued', expiresAt: undefined, finishedAt: undefined });
        expect(requeued).toBeDefined();
        const after = await b.store.get(j.id);
        expect(after!.expiresAt).toBeUndefined();
        expect(after!.finishedAt).toBeUndefined();
        expect('expiresAt' in after!).toBe(false);
        expect(after!.lastError?.status).toBe(503);
      }, timeout);

      it('concurrent transitions from one status: exactly one wins', async () => {
        const j = job();
        await b.store.create(j);
        const results = await Promise.all(Array.from({ length: 5 }, (_, i) => b.store.transition(j.id, ['queued'], { status: 'running', attempts: i + 1 })));
        expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      }, timeout);

      it('claimKey grants one lease per key; the owner renews it; release frees it', async () => {
        const key = 'mirror|dr|mirror/team/app|v1';
        expect(await b.store.claimKey(key, 'run-a', 60)).toBe(true);
        expect(await b.store.claimKey(key, 'run-b', 60)).toBe(false);
        expect(await b.store.claimKey('mirror|dr|mirror/team/app|v2', 'run-b', 60)).toBe(true);
        expect(await b.store.claimKey(key, 'run-a', 60)).toBe(true);
        await b.store.releaseKey(key, 'run-b'); // not the owner: no effect
        expect(await b.store.claimKey(key, 'run-b', 60)).toBe(false);
        await b.store.releaseKey(key, 'run-a');
        expect(await b.store.claimKey(key, 'run-b', 60)).toBe(true);
      }, timeout);

      it('an expired lease can be claimed by another run (the holder crashed)', async () => {
        const key = 'mirror|dr|mirror/team/app|v1';
        expect(await b.store.claimKey(key, 'run-a', 1)).toBe(true);
        await elapse(2100);
        expect(await b.store.claimKey(key, 'run-b', 60)).toBe(true);
        expect(await b.store.claimKey(key, 'run-a', 60)).toBe(false);
      }, timeout);

      it('concurrent claims of one key: exactly one wins', async () => {
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => b.store.claimKey('k', `run-${i}`, 60)));
        expect(results.filter(Boolean)).toHaveLength(1);
      }, timeout);

      describe('list', () => {
        async function seed(): Promise<Job[]> {
          const jobs: Job[] = [];
          for (let i = 0; i < 25; i++) {
            const j = job({ repository: i % 2 === 0 ? 'team/app' : 'team/db', reference: `v${i}`, minute: i, policy: i % 5 === 0 ? 'backup' : 'mirror' });
            jobs.push(j);
            await b.store.create(j);
          }
          // Give some of them other statuses.
          for (const j of jobs.slice(0, 6)) await b.store.transition(j.id, ['queued'], { status: 'dead' });
          return jobs;
        }

        async function all(query: Parameters<Backend['store']['list']>[0]): Promise<Job[]> {
          const out: Job[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await b.store.list({ ...query, cursor });
            out.push(...page.jobs);
            cursor = page.cursor;
            if (++pages > 50) throw new Error('paging does not end');
          } while (cursor);
          return out;
        }

        const ids = (jobs: Job[]) => jobs.map((j) => j.id);

        it('pages through every job once, newest first', async () => {
          const jobs = await seed();
          const first = await b.store.list({ limit: 10 });
          expect(first.jobs).toHaveLength(10);
          expect(first.cursor).toBeDefined();
          const listed = await all({ limit: 10 });
          expect(ids(listed)).toEqual(ids([...jobs].reverse()));
        }, timeout);

        it('refuses a cursor no page handed out with InvalidCursorError (HTTP 400, not 503)', async () => {
          for (const cursor of ['not-a-cursor', Buffer.from('{"x":1}').toString('base64url'), '%%%']) {
            await expect(b.store.list({ cursor })).rejects.toBeInstanceOf(InvalidCursorError);
          }
        }, timeout);

        it('filters by status', async () => {
          const jobs = await seed();
          const dead = await all({ status: 'dead', limit: 4 });
          expect(ids(dead)).toEqual(ids(jobs.slice(0, 6).reverse()));
          const queued = await all({ status: 'queued', limit: 7 });
          expect(queued).toHaveLength(19);
          expect(queued.every((j) => j.status === 'queued')).toBe(true);
        }, timeout);

        it('filters by policy', async () => {
          const jobs = await seed();
          const backup = await all({ policy: 'backup', limit: 2 });
          expect(ids(backup)).toEqual(ids(jobs.filter((j) => j.policy === 'backup').reverse()));
        }, timeout);

        it('filters by repository, source or destination', async () => {
          const jobs = await seed();
          const app = jobs.filter((j) => j.source.repository === 'team/app').reverse();
          expect(ids(await all({ repository: 'team/app', limit: 5 }))).toEqual(ids(app));
          expect(ids(await all({ repository: 'mirror/team/app', limit: 5 }))).toEqual(ids(app));
          expect(await all({ repository: 'team/none' })).toEqual([]);
        }, timeout);

        it('filters by creation time: since inclusive, until exclusive', async () => {
          const jobs = await seed();
          const since = jobs[10]!.createdAt;
          const until = jobs[20]!.createdAt;
          expect(ids(await all({ since, until, limit: 3 }))).toEqual(ids(jobs.slice(10, 20).reverse()));
        }, timeout);

        it('combines filters', async () => {
          const jobs = await seed();
          const expected = jobs.filter((j, i) => i < 6 && j.source.repository === 'team/app' && j.policy === 'mirror').reverse();
          expect(ids(await all({ status: 'dead', repository: 'team/app', policy: 'mirror', limit: 1 }))).toEqual(ids(expected));
        }, timeout);
      });

      it('keeps the TTL field (expiresAt, epoch seconds) and purges expired terminal records where the adapter purges itself', async () => {
        const old = job();
        const fresh = job({ reference: 'v2' });
        const queued = job({ reference: 'v3' });
        for (const j of [old, fresh, queued]) await b.store.create(j);
        await b.store.transition(old.id, ['queued'], { status: 'succeeded', expiresAt: 1_000 });
        await b.store.transition(fresh.id, ['queued'], { status: 'skipped', expiresAt: 3_000 });
        expect((await b.store.get(old.id))?.expiresAt).toBe(1_000);
        if (!b.store.purgeExpired) return; // DynamoDB expires items itself (TTL attribute)
        expect(await b.store.purgeExpired(2_000)).toBe(1);
        expect(await b.store.get(old.id)).toBeUndefined();
        expect(await b.store.get(fresh.id)).toBeDefined();
        expect(await b.store.get(queued.id)).toBeDefined();
      }, timeout);
    });

    describe('blob index', () => {
      const REG = 'https://dr.example.com';
      const D = `sha256:${'b'.repeat(64)}`;
      const index = () => {
        expect(b.blobIndex, 'the backend offers a blob index').toBeDefined();
        return b.blobIndex!;
      };

      it('knows nothing of a blob nobody recorded', async () => {
        expect(await index().get(REG, D)).toEqual({});
      }, timeout);

      it('one owner holds the upload lease; others see it; the holder renews it', async () => {
        expect(await index().claim(REG, D, 'a', 30_000)).toEqual({ claimed: true, entry: { uploader: 'a' } });
        expect(await index().claim(REG, D, 'b', 30_000)).toEqual({ claimed: false, entry: { uploader: 'a' } });
        expect((await index().claim(REG, D, 'a', 30_000)).claimed).toBe(true);
        expect(await index().get(REG, D)).toEqual({ uploader: 'a' });
        // Another registry, another digest: separate entries.
        expect((await index().claim('https://other.example.com', D, 'b', 30_000)).claimed).toBe(true);
        expect((await index().claim(REG, `sha256:${'c'.repeat(64)}`, 'b', 30_000)).claimed).toBe(true);
      }, timeout);

      it('record makes the blob known in a repository and ends the recorder\'s lease', async () => {
        await index().claim(REG, D, 'a', 30_000);
        await index().record(REG, D, 'team/app01', 'a');
        expect(await index().get(REG, D)).toEqual({ repository: 'team/app01' });
        // Without an owner (a HEAD or mount found it) another's lease is left alone.
        await index().claim(REG, D, 'b', 30_000);
        await index().record(REG, D, 'team/app02');
        expect(await index().get(REG, D)).toEqual({ repository: 'team/app02', uploader: 'b' });
        await index().record(REG, D, 'team/app03', 'someone-else');
        expect(await index().get(REG, D)).toEqual({ repository: 'team/app03', uploader: 'b' });
      }, timeout);

      it('release ends only the holder\'s own lease', async () => {
        await index().claim(REG, D, 'a', 30_000);
        await index().release(REG, D, 'b');
        expect(await index().get(REG, D)).toEqual({ uploader: 'a' });
        await index().release(REG, D, 'a');
        expect(await index().get(REG, D)).toEqual({});
        expect((await index().claim(REG, D, 'b', 30_000)).claimed).toBe(true);
      }, timeout);

      it('forget drops a sighting that proved wrong, not a newer one', async () => {
        await index().record(REG, D, 'team/app01');
        await index().forget(REG, D, 'team/other');
        expect(await index().get(REG, D)).toEqual({ repository: 'team/app01' });
        await index().forget(REG, D, 'team/app01');
        expect(await index().get(REG, D)).toEqual({});
      }, timeout);

      it('a lease nobody renews expires and another owner takes it', async () => {
        await index().claim(REG, D, 'a', 1500);
        expect((await index().claim(REG, D, 'b', 1500)).claimed).toBe(false);
        await elapse(2000);
        expect(await index().get(REG, D)).toEqual({});
        expect(await index().claim(REG, D, 'b', 30_000)).toEqual({ claimed: true, entry: { uploader: 'b' } });
      }, timeout);

      it('sightings expire (after a day by default)', async () => {
        await index().record(REG, D, 'team/app01');
        expect(await index().get(REG, D)).toEqual({ repository: 'team/app01' });
        if (!b.clock) return; // a day of real time is not waited for
        b.clock.advance(23 * 3600_000);
        expect(await index().get(REG, D)).toEqual({ repository: 'team/app01' });
        b.clock.advance(2 * 3600_000);
        expect(await index().get(REG, D)).toEqual({});
      }, timeout);

      it('of many owners claiming at once over separate connections, exactly one wins', async () => {
        const others: Backend[] = [];
        if (b.reopen) for (let i = 0; i < 3; i++) others.push(await b.reopen());
        extra.push(...others);
        const indexes = [index(), ...others.map((o) => o.blobIndex!)];
        const claims = await Promise.all(indexes.flatMap((ix, i) => [0, 1].map((j) => ix.claim(REG, D, `owner-${i}-${j}`, 30_000))));
        expect(claims.filter((c) => c.claimed)).toHaveLength(1);
        const winner = (await index().get(REG, D)).uploader;
        expect(claims.filter((c) => !c.claimed).every((c) => c.entry.uploader === winner)).toBe(true);
      }, timeout);
    });

    describe('rate store', () => {
      const REG = 'https://hub.example.com';
      const store = () => {
        expect(b.rateStore, 'the backend offers a rate store').toBeDefined();
        return b.rateStore!;
      };

      it('starts empty; an update is seen by the next load', async () => {
        expect(await store().load(REG)).toEqual({});
        const state = await store().update(REG, (s) => ({ ...s, limit: 25, since: 1000, peak: 50 }));
        expect(state).toEqual({ limit: 25, since: 1000, peak: 50 });
        expect(await store().load(REG)).toEqual({ limit: 25, since: 1000, peak: 50 });
        expect(await store().load('https://other.example.com')).toEqual({});
      }, timeout);

      it('concurrent updates over separate connections are all applied', async () => {
        const others: Backend[] = [];
        if (b.reopen) for (let i = 0; i < 2; i++) others.push(await b.reopen());
        extra.push(...others);
        const stores = [store(), ...others.map((o) => o.rateStore!)];
        await Promise.all(stores.flatMap((st) => [0, 1, 2].map(() => st.update(REG, (s) => ({ ...s, limit: (s.limit ?? 0) + 1 })))));
        expect((await store().load(REG)).limit).toBe(stores.length * 3);
      }, timeout);

      it('reserves request slots that never overlap, whoever asks', async () => {
        const now = 1_000_000;
        expect(await store().reserve(REG, 5, 10, now)).toBe(now);
        expect(await store().reserve(REG, 5, 10, now)).toBe(now + 50);
        // A later request starts from its own time once the schedule is idle.
        expect(await store().reserve(REG, 1, 10, now + 10_000)).toBe(now + 10_000);
        const others: Backend[] = [];
        if (b.reopen) for (let i = 0; i < 2; i++) others.push(await b.reopen());
        extra.push(...others);
        const stores = [store(), ...others.map((o) => o.rateStore!)];
        const starts = await Promise.all(stores.flatMap((st) => [0, 1].map(() => st.reserve(REG, 4, 10, now + 20_000))));
        const sorted = [...starts].sort((x, y) => x - y);
        expect(sorted[0]).toBe(now + 20_000);
        for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(40);
        // The back-off state is untouched by reservations.
        expect(await store().load(REG)).toEqual({});
      }, timeout);
    });

    describe('control store', () => {
      it('stores policy state and returns undefined for a policy never touched', async () => {
        expect(await b.control.getPolicy('mirror')).toBeUndefined();
        const state = { name: 'mirror', paused: true, changedAt: '2026-03-01T00:00:00.000Z', changedBy: 'alice', lastVerify: { at: '2026-03-01T00:00:00.000Z', by: 'bob', inSync: false, differences: 2, errorCount: 0 } };
        await b.control.putPolicy(state);
        expect(await b.control.getPolicy('mirror')).toEqual(state);
        await b.control.putPolicy({ ...state, paused: false });
        expect((await b.control.getPolicy('mirror'))?.paused).toBe(false);
      }, timeout);

      it('keeps deliveries per registry, newest first, bounded by count and age', async () => {
        const now = () => (b.clock ? b.clock.now() : new Date());
        const delivery = (id: string, registry = 'src', at = now().toISOString()) => ({ id, at, registry, remoteAddress: '127.0.0.1', status: 202, events: 2, jobsCreated: 1, jobIds: ['j'], ignored: ['pull'] });
        await b.control.recordDelivery(delivery('old', 'src', new Date(now().getTime() - DELIVERY_LIMITS.maxAgeMs - 60_000).toISOString()));
        for (let i = 0; i < DELIVERY_LIMITS.perRegistry + 3; i++) await b.control.recordDelivery(delivery(`d${i}`));
        await b.control.recordDelivery(delivery('other', 'dr'));
        const src = await b.control.listDeliveries('src', 1000);
        expect(src).toHaveLength(DELIVERY_LIMITS.perRegistry);
        expect(src[0]).toEqual(delivery(`d${DELIVERY_LIMITS.perRegistry + 2}`, 'src', src[0]!.at));
        expect(src.map((d) => d.id)).not.toContain('old');
        expect((await b.control.listDeliveries('src', 5)).map((d) => d.id)).toEqual(src.slice(0, 5).map((d) => d.id));
        expect((await b.control.listDeliveries('dr', 10)).map((d) => d.id)).toEqual(['other']);
      }, timeout);

      it('concurrent deliveries for one registry are all kept', async () => {
        const at = (b.clock ? b.clock.now() : new Date()).toISOString();
        await Promise.all(Array.from({ length: 8 }, (_, i) => b.control.recordDelivery({ id: `c${i}`, at, registry: 'src', status: 200, events: 1, jobsCreated: 0, jobIds: [], ignored: ['pull'] })));
        expect((await b.control.listDeliveries('src', 100)).map((d) => d.id).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `c${i}`));
      }, timeout);
    });

    describe('enqueue (records + messages through this backend)', () => {
      const DIGEST = `sha256:${'d'.repeat(64)}`;
      const spec = (reference: string, delaySeconds?: number): JobSpec => ({
        policy: 'mirror',
        source: { registry: 'src', repository: 'team/app', reference },
        destination: { registry: 'dr', repository: 'mirror/team/app' },
        ...(delaySeconds !== undefined ? { delaySeconds } : {}),
      });

      it('a deferred job is not received before its delay and is after; its record stays queued meanwhile', async () => {
        const trigger = { kind: 'event' as const, eventId: randomUUID(), at: new Date().toISOString(), action: 'push' as const };
        const deps = { queue: b.queue, store: b.store, ...(b.clock ? { clock: b.clock } : {}) };
        const [now, later] = await enqueue(deps, [spec('v1'), spec(DIGEST, 3)], trigger);
        expect([now!.created, later!.created]).toEqual([true, true]);
        // The delay belongs to the message, not to the job record.
        expect(await b.store.get(later!.job.id)).toEqual(later!.job);
        expect(later!.job).not.toHaveProperty('delaySeconds');

        const first = await receiveUntil(b.queue, 1, 60);
        expect(first.map((r) => r.message.jobId)).toEqual([now!.job.id]);
        await b.queue.ack(first[0]!.receipt);
        expect(await b.queue.receive(10, 60, 0)).toEqual([]);
        expect((await b.store.get(later!.job.id))?.status).toBe('queued');

        await elapse(3500);
        const second = await receiveUntil(b.queue, 1, 60);
        expect(second.map((r) => r.message)).toEqual([{ jobId: later!.job.id, key: later!.job.key }]);
        expect(second[0]!.receiveCount).toBe(1);
      }, timeout);
    });

    describe('job runner on this backend', () => {
      const stats = { manifests: 0, blobs: { copied: 0, skipped: 0, mounted: 0 }, bytes: 0, ms: 0 };

      it('a job whose worker died is run again within worker.visibilityTimeout, though received with a far longer visibility', async () => {
        const trigger = { kind: 'event' as const, eventId: randomUUID(), at: new Date().toISOString(), action: 'push' as const };
        const clock = b.clock ? { clock: b.clock } : {};
        const [created] = await enqueue({ queue: b.queue, store: b.store, ...clock }, [{
          policy: 'mirror', source: { registry: 'src', repository: 'team/crash', reference: 'v1' }, destination: { registry: 'dr', repository: 'team/crash' },
        }], trigger);
        // An SQS event source receives with the queue's own timeout (6 x the function timeout).
        const [received] = await receiveUntil(b.queue, 1, 3600);
        let started!: () => void;
        const running = new Promise<void>((resolve) => (started = resolve));
        // The worker dies mid-copy: its run never ends and no heartbeat follows the first.
        const dying = createJobRunner({
          queue: b.queue, store: b.store, maxAttempts: 3, retryDelayMs: 1000, visibilitySeconds: 2, heartbeatMs: 3_600_000, ...clock,
          replicate: () => { started(); return new Promise(() => {}); },
        });
        void dying.handle(received!);
        await running;
        await sleep(500);
        expect((await b.store.get(created!.job.id))?.status).toBe('running');
        await elapse(2500);
        const again = await receiveUntil(b.queue, 1, 2, 10_000);
        expect(again.map((r) => r.message.jobId)).toEqual([created!.job.id]);
        const healthy = createJobRunner({
          queue: b.queue, store: b.store, maxAttempts: 3, retryDelayMs: 1000, visibilitySeconds: 2, ...clock,
          replicate: async () => ({ action: 'copied', stats }),
        });
        expect(await healthy.handle(again[0]!)).toBe('succeeded');
        expect(await b.store.get(created!.job.id)).toMatchObject({ status: 'succeeded', attempts: 2 });
      }, timeout);
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
