// The control plane's job and policy actions on a real embedded backend, with the real job
// runner (the copy itself is a stand-in: these tests are about state, the browser and e2e
// tests copy through real registries).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../shared/config/load.js';
import { createControlPlane, UnknownNameError } from '../../shared/control/control-plane.js';
import { UnknownPolicyError } from '../../shared/reconcile/walk.js';
import { PermanentJobError } from '../../shared/replicate/errors.js';
import { createJobRunner } from '../../shared/jobs/runner.js';
import type { Job } from '../../shared/jobs/model.js';
import type { ReplicateJob } from '../../shared/replicate/types.js';
import { copied, gate, openHarness, type Harness } from '../jobs/harness.js';

let h: Harness;
beforeEach(() => {
  h = openHarness();
});
afterEach(async () => {
  await h.close();
});

const config = parseConfigText(`
registries:
  src: { url: "http://127.0.0.1:1", insecure: true, kind: distribution }
  dr: { url: "http://127.0.0.1:2", insecure: true }
policies:
  - name: mirror
    source: src
    repositories: ["**"]
    destinations: [{ registry: dr, repository: "mirror/{repository}" }]
`, 'ferry.yaml');

function plane() {
  return createControlPlane({ config, backend: h, clock: h.clock });
}

function runner(replicate: ReplicateJob) {
  return createJobRunner({
    queue: h.queue, store: h.store, replicate, maxAttempts: 3, retryDelayMs: 1000, visibilitySeconds: 60, clock: h.clock,
    cancelPollMs: 20, isPaused: async (p) => (await h.control.getPolicy(p))?.paused === true,
  });
}

const succeed: ReplicateJob = async () => copied(1234);

describe('cancel', () => {
  it('a queued job is cancelled at once and never runs', async () => {
    const job = await h.enqueueEvent();
    const r = await plane().cancel(job.id, 'alice');
    expect(r).toMatchObject({ ok: true, result: 'cancelled', job: { status: 'cancelled' } });
    let ran = false;
    expect(await runner(async () => { ran = true; return copied(); }).handle(await h.receiveOne())).toBe('duplicate');
    expect(ran).toBe(false);
    expect((await h.store.get(job.id))?.status).toBe('cancelled');
  });

  it('a running job stops when the cancel request is seen, keeps its uploads, and is recorded cancelled', async () => {
    const job = await h.enqueueEvent();
    const started = gate();
    const replicate: ReplicateJob = (_job, options) => new Promise((_, reject) => {
      started.open();
      options?.signal?.addEventListener('abort', () => reject(options.signal!.reason), { once: true });
    });
    const run = runner(replicate).handle(await h.receiveOne());
    await started.promise;
    const r = await plane().cancel(job.id, 'alice');
    expect(r).toMatchObject({ ok: true, result: 'cancel requested' });
    expect(await run).toBe('cancelled');
    const after = await h.store.get(job.id);
    expect(after).toMatchObject({ status: 'cancelled', lastError: { code: 'CANCELLED', message: 'cancelled by alice' }, history: [{ attempt: 1, outcome: 'cancelled' }] });
    expect(await h.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
  });

  it('refuses finished jobs and unknown ids', async () => {
    const job = await h.enqueueEvent();
    await runner(succeed).handle(await h.receiveOne());
    expect(await plane().cancel(job.id, 'a')).toMatchObject({ ok: false, reason: 'conflict' });
    expect(await plane().cancel('nope', 'a')).toMatchObject({ ok: false, reason: 'not found' });
  });
});

describe('retry', () => {
  it('a cancelled job goes back to the queue with attempts reset and runs to success; its error stays only in the history', async () => {
    const job = await h.enqueueEvent();
    await plane().cancel(job.id, 'alice');
    await runner(succeed).handle(await h.receiveOne()); // the old message is dropped
    h.clock.advance(1000);
    const r = await plane().retry(job.id, 'bob');
    expect(r).toMatchObject({ ok: true, result: 'queued', job: { status: 'queued', attempts: 0, replays: [{ by: 'bob' }] } });
    expect((r as { job: Job }).job.lastError).toBeUndefined();
    expect(await runner(succeed).handle(await h.receiveOne())).toBe('succeeded');
    const done = await h.store.get(job.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1, history: [{ attempt: 1, outcome: 'succeeded', bytes: 1234 }] });
    expect(done?.lastError).toBeUndefined();
  });

  it('a failed job (waiting for its backoff) runs now', async () => {
    const job = await h.enqueueEvent();
    let calls = 0;
    const flaky: ReplicateJob = async () => {
      if (calls++ === 0) throw Object.assign(new Error('HTTP 503 from dr'), { status: 503 });
      return copied();
    };
    const r = runner(flaky);
    expect(await r.handle(await h.receiveOne())).toBe('retry');
    expect((await plane().retry(job.id, 'bob')).ok).toBe(true);
    expect(await r.handle(await h.receiveOne())).toBe('succeeded');
    const done = await h.store.get(job.id);
    expect(done?.history?.map((a) => a.outcome)).toEqual(['failed', 'succeeded']);
  });

  it('a dead job is replayed out of the DLQ', async () => {
    const job = await h.enqueueEvent();
    const permanent = new PermanentJobError('the destination refuses this image');
    expect(await runner(async () => { throw permanent; }).handle(await h.receiveOne())).toBe('dead');
    expect((await h.queue.depth()).dead).toBe(1);
    expect(await plane().retry(job.id, 'carol')).toMatchObject({ ok: true, job: { status: 'queued' } });
    expect((await h.queue.depth()).dead).toBe(0);
    expect(await runner(succeed).handle(await h.receiveOne())).toBe('succeeded');
  });

  it('refuses queued and succeeded jobs', async () => {
    const job = await h.enqueueEvent();
    expect(await plane().retry(job.id, 'a')).toMatchObject({ ok: false, reason: 'conflict' });
  });
});

describe('policies', () => {
  it('pause holds new jobs as paused; resume releases them in order and they run', async () => {
    const p = plane();
    await p.pause('mirror', 'alice');
    expect(await p.isPaused('mirror')).toBe(true);
    const a = await h.enqueueEvent('v1');
    h.clock.advance(10);
    const b = await h.enqueueEvent('v2');
    const r = runner(succeed);
    expect(await r.handle(await h.receiveOne())).toBe('paused');
    expect(await r.handle(await h.receiveOne())).toBe('paused');
    expect(await h.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
    const view = await p.policy('mirror');
    expect(view).toMatchObject({ paused: true, changedBy: 'alice', jobs: { paused: 2 } });
    const resumed = await p.resume('mirror', 'bob');
    expect(resumed).toMatchObject({ paused: false, released: [a.id, b.id] });
    const first = await h.receiveOne();
    expect(first.message.jobId).toBe(a.id);
    expect(await r.handle(first)).toBe('succeeded');
    expect(await r.handle(await h.receiveOne())).toBe('succeeded');
    expect((await p.policy('mirror')).jobs).toEqual({ succeeded: 2 });
  });

  it('unknown policy names are errors', async () => {
    await expect(plane().pause('nope', 'a')).rejects.toBeInstanceOf(UnknownPolicyError);
  });

  it('lists registries with their roles and the webhook path only for sources', () => {
    const regs = plane().registries();
    expect(regs.find((r) => r.registry === 'src')).toMatchObject({ sourceOf: ['mirror'], webhookPath: '/webhooks/src' });
    expect(regs.find((r) => r.registry === 'dr')).toMatchObject({ destinationOf: ['mirror'] });
    expect(regs.find((r) => r.registry === 'dr')?.webhookPath).toBeUndefined();
  });
});

describe('deliveries', () => {
  it('keeps the newest deliveries per registry, bounded by count', async () => {
    const p = plane();
    for (let i = 0; i < 105; i++) {
      await p.recordDelivery({ id: `d${i}`, at: h.clock.now().toISOString(), registry: 'src', status: 202, events: 1, jobsCreated: 1, jobIds: [], ignored: [] });
      h.clock.advance(1);
    }
    const list = await p.deliveries('src', 1000);
    expect(list).toHaveLength(100);
    expect(list[0]!.id).toBe('d104');
    expect(await p.deliveries('dr')).toEqual([]);
    await expect(p.deliveries('nope')).rejects.toBeInstanceOf(UnknownNameError);
  });
});
