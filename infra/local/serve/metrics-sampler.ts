// Gauges that are sampled when Prometheus scrapes, not maintained incrementally: queue
// depth and the number of job records in each non-final state. Finished jobs are counted
// by ferry_jobs_total (a counter), so scrapes stay cheap however long the history is.
import type { JobStatus } from '../../../shared/jobs/model.js';
import type { Backend } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';
import type { FerryMetrics } from '../../../shared/observability/metrics.js';

const SAMPLED: readonly JobStatus[] = ['queued', 'running', 'failed', 'dead'];
/** Stop counting here: the gauge reports "at least this many" beyond it. */
const COUNT_CAP = 10_000;
const PAGE = 1000;

export async function countJobs(backend: Backend, status: JobStatus): Promise<number> {
  let total = 0;
  let cursor: string | undefined;
  do {
    const page = await backend.store.list(cursor ? { status, limit: PAGE, cursor } : { status, limit: PAGE });
    total += page.jobs.length;
    cursor = page.cursor;
  } while (cursor && total < COUNT_CAP);
  return total;
}

export async function sampleMetrics(backend: Backend, metrics: FerryMetrics, logger: Logger): Promise<void> {
  try {
    const depth = await backend.queue.depth();
    metrics.queueDepth.set({ state: 'queued' }, depth.queued);
    metrics.queueDepth.set({ state: 'in_flight' }, depth.inFlight);
    metrics.queueDepth.set({ state: 'dead' }, depth.dead);
    for (const status of SAMPLED) metrics.jobsByStatus.set({ status }, await countJobs(backend, status));
  } catch (err) {
    // A scrape must still answer: the counters are valid even when the backend is not.
    logger.warn({ err }, 'could not sample queue depth / job counts for /metrics');
  }
}
