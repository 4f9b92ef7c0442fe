// How a host turns a config and a backend into something that runs jobs: registry clients
// sharing one bandwidth limit, the copy engine (waiting for a fresh push's tag), and the
// runner. `ferry serve`, `ferry sync --wait` and the Lambda worker all build it here, so
// they run jobs identically.
import { randomUUID } from 'node:crypto';
import type { FerryConfig } from '../config/schema.js';
import { selfIdentity } from '../jobs/process-identity.js';
import type { Logger } from '../observability/logger.js';
import type { MetricsRecorder } from '../observability/recorder.js';
import { BandwidthLimiter } from '../registry/bandwidth.js';
import type { RegistryClient, RegistryClientOptions } from '../registry/client.js';
import { createRegistryClients } from '../registry/clients.js';
import type { RateEvent } from '../registry/rate-control.js';
import { processBlobIndex } from '../replicate/blob-index.js';
import { BlobFlights } from '../replicate/blob-flights.js';
import { awaitEventConsistency } from '../replicate/event-consistency.js';
import { createReplicator } from '../replicate/replicator.js';
import type { ReplicationTask } from '../replicate/types.js';
import type { Backend } from '../jobs/ports.js';
import { createJobRunner, type JobRunner } from '../jobs/runner.js';

export interface JobExecution {
  clients: Map<string, RegistryClient>;
  runner: JobRunner;
  /** How long a received message stays hidden; the runner's heartbeat renews it. */
  visibilitySeconds: number;
  /** Closes the registry clients' connections (not the backend). */
  close(): Promise<void>;
}

export interface JobExecutionDeps {
  logger: Logger;
  metrics?: MetricsRecorder | undefined;
  /** Sees every registry request (registry health for the console). */
  observer?: RegistryClientOptions['observer'];
  /** Runs before a job copies to its destination (the Lambda worker creates missing ECR repositories). */
  beforeCopy?: (task: ReplicationTask) => Promise<void>;
}

export function createJobExecution(config: FerryConfig, backend: Backend, deps: JobExecutionDeps): JobExecution {
  const { logger, metrics } = deps;
  const visibilitySeconds = Math.max(1, Math.ceil(config.worker.visibilityTimeout / 1000));
  // One limiter for every client: worker.bandwidth caps the process, not each registry.
  const clients = createRegistryClients(config, {
    throttle: new BandwidthLimiter(config.worker.bandwidth),
    ...(backend.rateStore ? { rateStore: backend.rateStore } : {}),
    onRateEvent: rateEventReporter(logger, metrics),
    ...(deps.observer ? { observer: deps.observer } : {}),
    onAuthEvent: (registry, event) => {
      // Where the registry's credentials go: expected for Docker Hub (auth.docker.io), worth knowing elsewhere.
      logger.info({ registry, realm: event.realm }, `registry ${registry} gets its tokens from another host: ${event.realm}`);
    },
  });
  // Every job of this host (and, through the backend's index, of every other worker) uploads
  // a blob to a registry once; the others mount it.
  // Lease owners name this process, so a restart on the same host releases a killed one's leases.
  const blobs = new BlobFlights(backend.blobIndex ?? processBlobIndex, { owner: `${randomUUID().slice(0, 8)}@${selfIdentity()}` });
  // Registries notify before they write the tag: a fresh push job waits (briefly) for it.
  const converge = awaitEventConsistency(createReplicator({ config, clients, logger, blobs }), clients);
  const beforeCopy = deps.beforeCopy;
  const replicate: typeof converge = beforeCopy
    ? async (task, opts) => {
        if (task.trigger.action !== 'delete') await beforeCopy(task);
        return converge(task, opts);
      }
    : converge;
  const runner = createJobRunner({
    queue: backend.queue,
    store: backend.store,
    replicate,
    maxAttempts: config.worker.maxAttempts,
    retryDelayMs: config.worker.retryDelay,
    visibilitySeconds,
    retentionMs: config.retention,
    jobTimeoutMs: config.worker.jobTimeout,
    logger,
    ...(metrics ? { metrics } : {}),
    // Paused policies hold their jobs (status paused) until resumed.
    isPaused: async (policy) => (await backend.control.getPolicy(policy))?.paused === true,
  });
  return {
    clients,
    runner,
    visibilitySeconds,
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close().catch(() => {})));
    },
  };
}

/** Logs and counts a registry's back-offs and quota pauses. */
export function rateEventReporter(logger: Logger, metrics: MetricsRecorder | undefined): (registry: string, event: RateEvent) => void {
  return (registry, event) => {
    switch (event.kind) {
      case 'slowed':
        metrics?.registryBackoffs.inc({ registry, status: String(event.status) });
        metrics?.registryRateLimit.set({ registry }, event.rate);
        logger.warn({ registry, status: event.status, rate: Math.round(event.rate * 10) / 10, retryAfterMs: event.retryAfterMs },
          event.status === 0 ? `registry ${registry}: another worker saw it throttle; every job slows down` : `registry ${registry} answered ${event.status}: every job slows down`);
        break;
      case 'recovered':
        metrics?.registryRateLimit.set({ registry }, 0);
        logger.info({ registry }, `registry ${registry}: back-off over, full rate again`);
        break;
      case 'pulls-paused':
        metrics?.registryPullsPaused.set({ registry }, 1);
        logger.warn({ registry, remaining: event.remaining, until: new Date(event.untilMs).toISOString() },
          `registry ${registry}: pull quota down to ${event.remaining} (limits.minRemaining); pulls paused`);
        break;
      case 'pulls-resumed':
        metrics?.registryPullsPaused.set({ registry }, 0);
        logger.info({ registry, remaining: event.remaining }, `registry ${registry}: pull quota at ${event.remaining}; pulls resume`);
        break;
    }
  };
}
