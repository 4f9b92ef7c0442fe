// Admin actions on one job: cancel and retry. Conditional transitions make each safe
// against a worker acting on the same job at the same moment: exactly one side wins, and
// the loser sees the other's result.
import type { Job, JobStatus } from '../jobs/model.js';
import { systemClock, type Clock, type JobQueue, type JobStore } from '../jobs/ports.js';
import { replayDeadJobs } from '../jobs/replay.js';

export interface JobActionDeps {
  queue: JobQueue;
  store: JobStore;
  clock?: Clock;
}

export type JobActionResult =
  | { ok: true; job: Job; /** What happened: "cancelled", "cancel requested", "queued". */ result: string }
  | { ok: false; reason: 'not found' | 'conflict'; detail: string; job?: Job };

/** Statuses whose job has not started a run: cancelling them means they never run. */
const WAITING: readonly JobStatus[] = ['queued', 'failed', 'paused'];
export const RETRYABLE: readonly JobStatus[] = ['failed', 'dead', 'cancelled'];

/**
 * queued / failed / paused -> cancelled at once (their queue message, when it arrives,
 * finds the job finished and is dropped). running -> a cancel request on the record: the
 * run stops at its next blob boundary and keeps its upload sessions, so a retry resumes.
 */
export async function cancelJob(deps: JobActionDeps, id: string, by: string): Promise<JobActionResult> {
  const at = (deps.clock ?? systemClock).now().toISOString();
  for (let round = 0; round < 3; round++) {
    const job = await deps.store.get(id);
    if (!job) return { ok: false, reason: 'not found', detail: `no job with id ${JSON.stringify(id)}` };
    if (WAITING.includes(job.status)) {
      const done = await deps.store.transition(id, WAITING, {
        status: 'cancelled',
        finishedAt: at,
        lastError: { message: `cancelled by ${by}`, transient: false, code: 'CANCELLED' },
      });
      if (done) return { ok: true, job: done, result: 'cancelled' };
      continue; // a worker took it meanwhile: look again
    }
    if (job.status === 'running') {
      if (job.cancelRequested) return { ok: true, job, result: 'cancel requested' };
      const asked = await deps.store.transition(id, ['running'], { status: 'running', cancelRequested: { at, by } });
      if (asked) return { ok: true, job: asked, result: 'cancel requested' };
      continue;
    }
    return { ok: false, reason: 'conflict', detail: `job ${id} is ${job.status}: only queued, failed, paused or running jobs can be cancelled`, job };
  }
  const job = await deps.store.get(id);
  return { ok: false, reason: 'conflict', detail: `job ${id} kept changing state (now ${job?.status ?? 'gone'}); try again`, ...(job ? { job } : {}) };
}

/**
 * failed / dead / cancelled -> queued with attempts reset and the current error cleared
 * (each attempt's error stays in the history). A dead job's letter moves back from the DLQ
 * (the replay path); the others get a fresh message (a failed job's pending retry message
 * then finds it running or done, and is dropped).
 */
export async function retryJob(deps: JobActionDeps, id: string, by: string): Promise<JobActionResult> {
  const clock = deps.clock ?? systemClock;
  const job = await deps.store.get(id);
  if (!job) return { ok: false, reason: 'not found', detail: `no job with id ${JSON.stringify(id)}` };
  if (!RETRYABLE.includes(job.status)) {
    return { ok: false, reason: 'conflict', detail: `job ${id} is ${job.status}: only failed, dead or cancelled jobs can be retried`, job };
  }
  if (job.status === 'dead') {
    await replayDeadJobs({ queue: deps.queue, store: deps.store, clock }, { jobIds: [id] }, by);
    const after = await deps.store.get(id);
    return after?.status === 'queued' || after?.status === 'running'
      ? { ok: true, job: after, result: 'queued' }
      : { ok: false, reason: 'conflict', detail: `job ${id} is ${after?.status ?? 'gone'} after the replay`, ...(after ? { job: after } : {}) };
  }
  const at = clock.now().toISOString();
  const queued = await deps.store.transition(id, [job.status], {
    status: 'queued',
    attempts: 0,
    lastError: undefined,
    cancelRequested: undefined,
    finishedAt: undefined,
    expiresAt: undefined,
    replays: [...(job.replays ?? []), { at, by }],
  });
  if (!queued) {
    const now = await deps.store.get(id);
    return { ok: false, reason: 'conflict', detail: `job ${id} changed to ${now?.status ?? 'gone'} meanwhile`, ...(now ? { job: now } : {}) };
  }
  await deps.queue.send([{ jobId: queued.id, key: queued.key }]);
  return { ok: true, job: queued, result: 'queued' };
}
