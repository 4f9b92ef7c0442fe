// The job-processing half of `ferry serve`, reusable on its own (e.g. `ferry sync --wait`
// processing its jobs in-process): registry clients sharing one bandwidth limit, the copy
// engine, the job runner and a worker pool over the backend's queue.
import type { FerryConfig } from '../../../shared/config/schema.js';
import { createJobExecution, type JobExecution, type JobExecutionDeps } from '../../../shared/execution/job-execution.js';
import type { Backend } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';
import type { FerryMetrics } from '../../../shared/observability/metrics.js';
import { createWorkerPool, type WorkerPool } from './worker-pool.js';

export interface WorkerStack extends JobExecution {
  /** Not started: call pool.start(), and pool.drain(graceMs) before close(). */
  pool: WorkerPool;
}

export function createWorkerStack(config: FerryConfig, backend: Backend, deps: JobExecutionDeps & { logger: Logger; metrics?: FerryMetrics }): WorkerStack {
  const execution = createJobExecution(config, backend, deps);
  const pool = createWorkerPool({
    queue: backend.queue,
    runner: execution.runner,
    concurrency: config.worker.concurrency,
    visibilitySeconds: execution.visibilitySeconds,
    logger: deps.logger,
    // Both queues long-poll: the embedded one wakes at once on sends from this process and
    // polls for other processes' (the CLI's replay). Short waits keep the drain quick.
    waitSeconds: config.backend === 'aws' ? 5 : 1,
  });
  return { ...execution, pool };
}
