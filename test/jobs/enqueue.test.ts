// enqueue() on the real embedded backend: records first, then messages; duplicates absorbed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { enqueue } from '../../shared/jobs/enqueue.js';
import type { JobStore } from '../../shared/jobs/ports.js';
import { openHarness, spec, type Harness } from './harness.js';

let h: Harness;
beforeEach(() => { h = openHarness(); });
afterEach(async () => { await h.close(); });

const event = (eventId: string) => ({ kind: 'event' as const, eventId, at: '2026-05-01T12:00:00.000Z', action: 'push' as const });

describe('enqueue', () => {
  it('makes one job and one message per spec', async () => {
    const res = await enqueue(h, [spec('v1'), spec('v2')], event('e1'));
    expect(res.map((r) => r.created)).toEqual([true, true]);
    expect((await h.queue.depth()).queued).toBe(2);
    expect((await h.store.get(res[0]!.job.id))?.status).toBe('queued');
  });

  it('a redelivered event maps onto the same job and sends it again (the first send may have failed)', async () => {
    const [first] = await enqueue(h, [spec('v1')], event('e1'));
    const [again] = await enqueue(h, [spec('v1')], event('e1'));
    expect(again).toEqual({ job: first!.job, created: false });
    expect((await h.queue.depth()).queued).toBe(2);
  });

  it('another event for a queued key is absorbed and sends nothing', async () => {
    const [first] = await enqueue(h, [spec('v1')], event('e1'));
    const [second] = await enqueue(h, [spec('v1')], event('e2'));
    expect(second).toEqual({ job: first!.job, created: false });
    expect((await h.queue.depth()).queued).toBe(1);
  });

  it('one batch naming one target twice makes one job and one message', async () => {
    const res = await enqueue(h, [spec('v1'), spec('v1')], event('e1'));
    expect(res.map((r) => r.created)).toEqual([true, false]);
    expect((await h.queue.depth()).queued).toBe(1);
  });

  it('sends deferred jobs with their delay and the others at once, one send per delay', async () => {
    const sends: Array<{ jobIds: string[]; delaySeconds: number | undefined }> = [];
    const queue = { ...h.queue, send: async (messages: Parameters<typeof h.queue.send>[0], delaySeconds?: number) => {
      sends.push({ jobIds: messages.map((m) => m.jobId), delaySeconds });
      await h.queue.send(messages, delaySeconds);
    } };
    const digest = `sha256:${'b'.repeat(64)}`;
    const res = await enqueue({ queue, store: h.store, clock: h.clock },
      [{ ...spec(digest), delaySeconds: 30 }, spec('v1'), { ...spec(digest, 'team/other'), delaySeconds: 30 }, spec('v2')], event('e1'));
    const [childA, v1, childB, v2] = res.map((r) => r.job.id);
    // Without a delay exactly as before (no second argument); each delay in one send.
    expect(sends).toEqual([{ jobIds: [v1, v2], delaySeconds: undefined }, { jobIds: [childA, childB], delaySeconds: 30 }]);
    expect((await h.store.get(childA!))?.status).toBe('queued');
    expect(await h.store.get(childA!)).not.toHaveProperty('delaySeconds');

    expect((await h.queue.receive(10, 60, 0)).map((r) => r.message.jobId).sort()).toEqual([v1, v2].sort());
    h.clock.advance(29_999);
    expect(await h.queue.receive(10, 60, 0)).toEqual([]);
    h.clock.advance(1);
    expect((await h.queue.receive(10, 60, 0)).map((r) => r.message.jobId).sort()).toEqual([childA, childB].sort());
  });

  it('a redelivered event re-sends its deferred job with the delay again', async () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    const [first] = await enqueue(h, [{ ...spec(digest), delaySeconds: 10 }], event('e1'));
    h.clock.advance(5_000);
    const [again] = await enqueue(h, [{ ...spec(digest), delaySeconds: 10 }], event('e1'));
    expect(again).toEqual({ job: first!.job, created: false });
    h.clock.advance(5_000);
    // The first message is due; the resent one 5 s later. Duplicates are harmless (one run).
    expect((await h.queue.receive(10, 60, 0)).map((r) => r.message.jobId)).toEqual([first!.job.id]);
    h.clock.advance(5_000);
    expect((await h.queue.receive(10, 60, 0)).map((r) => r.message.jobId)).toEqual([first!.job.id]);
  });

  it('refuses a delay no backend can honour before writing anything', async () => {
    for (const delaySeconds of [901, -1, Number.NaN]) {
      await expect(enqueue(h, [spec('v1'), { ...spec('v2'), delaySeconds }], event('e1'))).rejects.toThrow(/between 0 and 900 seconds/);
    }
    expect((await h.store.list({ limit: 10 })).jobs).toEqual([]);
    expect((await h.queue.depth()).queued).toBe(0);
  });

  it('works the same on a store without createMany', async () => {
    const store: JobStore = { ...h.store };
    delete store.createMany;
    const res = await enqueue({ queue: h.queue, store }, [spec('v1'), spec('v1'), spec('v2')], event('e1'));
    expect(res.map((r) => r.created)).toEqual([true, false, true]);
    expect((await h.queue.depth()).queued).toBe(2);
  });
});
