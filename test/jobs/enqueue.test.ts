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

  it('works the same on a store without createMany', async () => {
    const store: JobStore = { ...h.store };
    delete store.createMany;
    const res = await enqueue({ queue: h.queue, store }, [spec('v1'), spec('v1'), spec('v2')], event('e1'));
    expect(res.map((r) => r.created)).toEqual([true, false, true]);
    expect((await h.queue.depth()).queued).toBe(2);
  });
});
