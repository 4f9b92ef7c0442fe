// How a host turns a config and a backend into something that runs jobs: registry clients
// sharing one bandwidth limit, the copy engine (waiting for a fresh push's tag), and the
// runner. `ferry serve`, `ferry sync --wait` and the Lambda worker all build it here, so
// they run jobs identically.
import type { FerryConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { FerryMetrics } from '../observability/metrics.js';
import { BandwidthLimiter } from '../registry/bandwidth.js';
import type { RegistryClient } from '../registry/client.js';
import { createRegistryClients } from '../registry/clients.js';
import { processBlobIndex } from '../replicate/blob-index.js';
import { BlobFlights } from '../replicate/blob-flights.js';
import { awaitEventConsistency } from '../replicate/event-consistency.js';
import { createReplicator } from '../replicate/replicator.js';
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

export function createJobExecution(config: FerryConfig, backend: Backend, deps: { logger: Logger; metrics?: FerryMetrics | undefined }): JobExecution {
  const { logger, metrics } = deps;
  const visibilitySeconds = Math.max(1, Math.ceil(config.worker.visibilityTimeout / 1000));
  // One limiter for every client: worker.bandwidth caps the process, not each registry.
  const clients = createRegistryClients(config, { throttle: new BandwidthLimiter(config.worker.bandwidth) });
  // Registries notify before they write the tag: a fresh push job waits (briefly) for it.
  // Every job of this host (and, through the backend's index, of every other worker) uploads
  // a blob to a registry once; the others mount it.
  const blobs = new BlobFlights(backend.blobIndex ?? processBlobIndex);
  const replicate = awaitEventConsistency(createReplicator({ config, clients, logger, blobs }), clients);
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
  return {
    clients,
    runner,
    visibilitySeconds,
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close().catch(() => {})));
    },
  };
}
