// Waits until jobs are terminal by polling the job store: what `ferry sync --wait` reports
// on. Jobs finish roughly in queue order, so each round looks at the oldest unfinished ones
// first and only a bounded number of them (cheap on DynamoDB as on SQLite).
import { isTerminal, type Job, type JobStatus } from '../jobs/model.js';
import type { JobStore } from '../jobs/ports.js';
import { pause } from '../retry/sleep.js';

export interface JobTally {
  total: number;
  succeeded: number;
  skipped: number;
  dead: number;
  /** Records that disappeared while waited on (expired by retention). */
  vanished: number;
  /** Not yet terminal (queued, running, or failed and retrying). */
  pending: number;
  /** Dead jobs, for the report. */
  deadJobs: Job[];
}

export interface AwaitJobsOptions {
  /** Store reads per round. Default 200. */
  perRound?: number;
  /** Pause between rounds that changed nothing. Default 250 ms. */
  pollMs?: number;
  onProgress?: (tally: JobTally) => void;
  signal?: AbortSignal;
  /** Resolves when a job may have finished (an in-process worker handled one): ends a pause early. */
  wake?: () => Promise<void>;
}


/** Resolves when every job is terminal (or the signal aborts: then `pending` says how many were left). */
export async function awaitJobs(store: Pick<JobStore, 'get'>, jobIds: Iterable<string>, options: AwaitJobsOptions = {}): Promise<JobTally> {
  const perRound = Math.max(1, options.perRound ?? 200);
  const pollMs = options.pollMs ?? 250;
  let pending = [...new Set(jobIds)];
  const tally: JobTally = { total: pending.length, succeeded: 0, skipped: 0, dead: 0, vanished: 0, pending: pending.length, deadJobs: [] };
  const record = (status: JobStatus, job: Job) => {
    if (status === 'succeeded') tally.succeeded++;
    else if (status === 'skipped') tally.skipped++;
    else if (status === 'dead') {
      tally.dead++;
      tally.deadJobs.push(job);
    }
  };
  options.onProgress?.({ ...tally });
  while (pending.length > 0 && !options.signal?.aborted) {
    const round = pending.slice(0, perRound);
    const jobs = await Promise.all(round.map((id) => store.get(id)));
    const finished = new Set<string>();
    jobs.forEach((job, i) => {
      // A record that vanished (expired by retention) cannot be waited on any longer.
      if (!job) {
        finished.add(round[i]!);
        tally.vanished++;
      }
      else if (isTerminal(job.status)) {
        finished.add(job.id);
        record(job.status, job);
      }
    });
    if (finished.size > 0) {
      pending = pending.filter((id) => !finished.has(id));
      tally.pending = pending.length;
      options.onProgress?.({ ...tally, deadJobs: [...tally.deadJobs] });
    }
    if (pending.length > 0 && finished.size < round.length) await nextRound(pollMs, options);
  }
  return tally;
}

/** Waits `pollMs`, or less when woken; a pause cut short leaves no timer to hold the process open. */
async function nextRound(pollMs: number, options: AwaitJobsOptions): Promise<void> {
  if (!options.wake) {
    await pause(pollMs, options.signal);
    return;
  }
  const done = new AbortController();
  const relay = (): void => done.abort();
  options.signal?.addEventListener('abort', relay, { once: true });
  try {
    await Promise.race([pause(pollMs, done.signal), options.wake()]);
  } finally {
    done.abort();
    options.signal?.removeEventListener('abort', relay);
  }
}
