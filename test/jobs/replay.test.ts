// Replay of dead jobs on the real embedded backend.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replayDeadJobs } from '../../shared/jobs/replay.js';
import type { Job } from '../../shared/jobs/model.js';
import { openHarness, type Harness } from './harness.js';

let h: Harness;
beforeEach(() => { h = openHarness(); });
afterEach(async () => { await h.close(); });

/** Runs the job's message into the DLQ the way the runner does: dead-letter, then record dead. */
async function kill(job: Job): Promise<void> {
  const r = await h.receiveOne();
  expect(r.message.jobId).toBe(job.id);
  await h.store.transition(job.id, ['queued'], { status: 'running', attempts: 1 });
  await h.queue.deadLetter(r.receipt, r.message, 'permanent error: HTTP 403');
  await h.store.transition(job.id, ['running'], { status: 'dead', attempts: 5, lastError: { message: 'HTTP 403', status: 403, registry: 'dr', transient: false }, finishedAt: h.clock.now().toISOString(), expiresAt: 1_900_000_000 });
}

const deps = () => ({ queue: h.queue, store: h.store, clock: h.clock });

describe('replayDeadJobs', () => {
  it('selected by id: only those jobs go back, reset and recorded', async () => {
    const a = await h.enqueueEvent('v1');
    await kill(a);
    const b = await h.enqueueEvent('v2');
    await kill(b);
    expect(await replayDeadJobs(deps(), { jobIds: [b.id] }, 'alice')).toEqual([b.id]);
    const stored = await h.store.get(b.id);
    expect(stored).toMatchObject({ status: 'queued', attempts: 0, trigger: b.trigger, replays: [{ by: 'alice' }] });
    // The replayed job no longer shows its old error as current.
    expect(stored?.lastError).toBeUndefined();
    expect(stored?.finishedAt).toBeUndefined();
    expect(stored?.expiresAt).toBeUndefined();
    expect((await h.store.get(a.id))?.status).toBe('dead');
    expect((await h.queue.listDead()).map((d) => d.message.jobId)).toEqual([a.id]);
    expect((await h.receiveOne()).message.jobId).toBe(b.id);
  });

  it('selected by repository (source or destination)', async () => {
    const a = await h.enqueueEvent('v1', 'e1', 'team/app');
    await kill(a);
    const b = await h.enqueueEvent('v1', 'e2', 'team/db');
    await kill(b);
    expect(await replayDeadJobs(deps(), { repository: 'mirror/team/db' }, 'bob')).toEqual([b.id]);
    expect(await replayDeadJobs(deps(), { repository: 'team/app' }, 'bob')).toEqual([a.id]);
    expect(await h.queue.listDead()).toEqual([]);
  });

  it('all, and twice: replays accumulate in order', async () => {
    const a = await h.enqueueEvent('v1');
    await kill(a);
    expect(await replayDeadJobs(deps(), { all: true }, 'first')).toEqual([a.id]);
    await kill(a);
    h.clock.advance(1000);
    expect(await replayDeadJobs(deps(), { all: true }, 'second')).toEqual([a.id]);
    expect((await h.store.get(a.id))?.replays?.map((r) => r.by)).toEqual(['first', 'second']);
  });

  it('a dead job whose message never reached the DLQ (crash in between) is replayed with a new message', async () => {
    const a = await h.enqueueEvent('v1');
    const r = await h.receiveOne();
    await h.queue.ack(r.receipt);
    await h.store.transition(a.id, ['queued'], { status: 'dead', lastError: { message: 'x', transient: false } });
    expect(await replayDeadJobs(deps(), { all: true }, 'admin')).toEqual([a.id]);
    expect((await h.receiveOne()).message.jobId).toBe(a.id);
  });

  it('a dead letter whose record is not dead (dead-lettered, then crashed before recording) is replayed too', async () => {
    const a = await h.enqueueEvent('v1');
    const r = await h.receiveOne();
    await h.store.transition(a.id, ['queued'], { status: 'running', attempts: 3 });
    await h.queue.deadLetter(r.receipt, r.message, 'attempts exhausted');
    expect(await replayDeadJobs(deps(), { jobIds: [a.id] }, 'admin')).toEqual([a.id]);
    expect(await h.store.get(a.id)).toMatchObject({ status: 'queued', attempts: 0 });
  });

  it('needs a selector', async () => {
    await expect(replayDeadJobs(deps(), {}, 'admin')).rejects.toThrow(/selector/);
  });
});
