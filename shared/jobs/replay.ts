// Admin replay: dead jobs go back to the queue with attempts reset and the replay
// recorded. The record is reset BEFORE its message moves: a worker receiving the message
// must find the job runnable, never still dead (it would drop the message as done).
import type { Job } from './model.js';
import { systemClock, type Clock, type JobQueue, type JobStore, type ReplaySelector } from './ports.js';

export interface ReplayDeps {
  queue: JobQueue;
  store: JobStore;
  clock?: Clock;
}

const matchesRepository = (job: Job, repository: string) =>
  job.source.repository === repository || job.destination.repository === repository;

/** All job records with status dead matching the selector (the store is the record of "dead"). */
async function deadInStore(store: JobStore, selector: ReplaySelector): Promise<Job[]> {
  if (selector.jobIds) {
    const jobs = await Promise.all(selector.jobIds.map((id) => store.get(id)));
    return jobs.filter((j): j is Job => j?.status === 'dead');
  }
  const out: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ status: 'dead', limit: 500, ...(selector.repository !== undefined && !selector.all ? { repository: selector.repository } : {}), ...(cursor ? { cursor } : {}) });
    out.push(...page.jobs);
    cursor = page.cursor;
  } while (cursor);
  return out;
}

/**
 * Moves the selected dead jobs back to the queue. Selects from the dead-letter queue and
 * from dead records in the store, so a job whose dead-lettering was interrupted (or whose
 * message the queue's redrive moved) is still replayable. Returns the replayed job ids.
 */
export async function replayDeadJobs(deps: ReplayDeps, selector: ReplaySelector, by: string): Promise<string[]> {
  if (!selector.all && !selector.jobIds && selector.repository === undefined) {
    throw new Error('replay needs a selector: all, jobIds or repository');
  }
  const { queue, store } = deps;
  const at = (deps.clock ?? systemClock).now().toISOString();

  const letters = await queue.listDead();
  const wanted = selector.jobIds ? new Set(selector.jobIds) : undefined;
  const fromDlq = new Set<string>();
  for (const letter of letters) {
    const id = letter.message.jobId;
    if (selector.all || wanted?.has(id)) fromDlq.add(id);
    else if (selector.repository !== undefined) {
      const job = await store.get(id);
      if (job && matchesRepository(job, selector.repository)) fromDlq.add(id);
    }
  }
  const deadJobs = await deadInStore(store, selector);
  const withoutLetter = deadJobs.filter((j) => !fromDlq.has(j.id));

  const replayed: string[] = [];
  for (const id of [...fromDlq, ...withoutLetter.map((j) => j.id)]) {
    const job = await store.get(id);
    // Not dead (a duplicate letter of a job that finished) -> the message is moved anyway and
    // the runner drops it; the record is left as it is.
    if (job && !['succeeded', 'skipped'].includes(job.status)) {
      await store.transition(id, [job.status], {
        status: 'queued',
        attempts: 0,
        replays: [...(job.replays ?? []), { at, by }],
        // The error stays in the attempt history; the job no longer shows it as current.
        lastError: undefined,
        expiresAt: undefined,
        finishedAt: undefined,
      });
    }
    replayed.push(id);
  }
  if (fromDlq.size > 0) await queue.replayDead({ jobIds: [...fromDlq] });
  if (withoutLetter.length > 0) await queue.send(withoutLetter.map((j) => ({ jobId: j.id, key: j.key })));
  return replayed;
}
