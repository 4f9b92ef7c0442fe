// The job-processing half of `ferry serve`, reusable on its own (e.g. `ferry sync --wait`
// processing its jobs in-process): registry clients sharing one bandwidth limit, the copy
// engine, the job runner and a worker pool over the backend's queue.
import type { FerryConfig } from '../../../shared/config/schema.js';
import { createJobRunner, type JobRunner } from '../../../shared/jobs/runner.js';
import type { Backend } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';
import type { FerryMetrics } from '../../../shared/observability/metrics.js';
import { BandwidthLimiter } from '../../../shared/registry/bandwidth.js';
import type { RegistryClient } from '../../../shared/registry/client.js';
import { createRegistryClients } from '../../../shared/registry/clients.js';
import { createReplicator } from '../../../shared/replicate/replicator.js';
import { awaitEventConsistency } from '../../../shared/replicate/event-consistency.js';
import { createWorkerPool, type WorkerPool } from './worker-pool.js';

export interface WorkerStack {
  clients: Map<string, RegistryClient>;
  runner: JobRunner;
  /** Not started: call pool.start(), and pool.drain(graceMs) before close(). */
  pool: WorkerPool;
  visibilitySeconds: number;
  /** Closes the registry clients' connections (not the backend). */
  close(): Promise<void>;
}

export function createWorkerStack(config: FerryConfig, backend: Backend, deps: { logger: Logger; metrics?: FerryMetrics }): WorkerStack {
  const { logger, metrics } = deps;
  const visibilitySeconds = Math.max(1, Math.ceil(config.worker.visibilityTimeout / 1000));
  // One limiter for every client: worker.bandwidth caps the process, not each registry.
  const throttle = new BandwidthLimiter(config.worker.bandwidth);
  const clients = createRegistryClients(config, { throttle });
  const replicate = awaitEventConsistency(createReplicator({ config, clients, logger }), clients);
  const runner = createJobRunner({
    queue: backend.queue,
    store: backend.store,
    replicate,
    maxAttempts: config.worker.maxAttempts,
    retryDelayMs: config.worker.retryDelay,
    visibilitySeconds,
    retentionMs: config.retention,
    logger,
    ...(metrics ? { metrics } : {}),
  });
  const pool = createWorkerPool({
    queue: backend.queue,
    runner,
    concurrency: config.worker.concurrency,
    visibilitySeconds,
    logger,
    // Both queues long-poll: the embedded one wakes at once on sends from this process and
    // polls for other processes' (the CLI's replay). Short waits keep the drain quick.
    waitSeconds: config.backend === 'aws' ? 5 : 1,
  });
  return {
    clients,
    runner,
    pool,
    visibilitySeconds,
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close().catch(() => {})));
    },
  };
}
