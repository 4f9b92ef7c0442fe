// Binds the reconcile engine (shared/reconcile) to the host's SyncFn: POST /api/sync
// {policy?} and each policy's `schedule` call it. Expected from shared/reconcile (issue 7):
//   reconcilePolicy({ config, clients, policy, deps: { queue, store }, dryRun: false, concurrency })
//     -> { copy: number, delete: number, inSync: number, enqueued: ... }
// Until it exists, sync answers 501 "reconcile not available".
import type { FerryConfig } from '../../../shared/config/schema.js';
import type { JobQueue, JobStore } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';
import type { FerryMetrics } from '../../../shared/observability/metrics.js';
import type { RegistryClient } from '../../../shared/registry/client.js';
import { unavailableSync, type SyncFn } from './sync.js';

export interface SyncDeps {
  config: FerryConfig;
  clients: Map<string, RegistryClient>;
  queue: JobQueue;
  store: JobStore;
  logger: Logger;
  metrics: FerryMetrics;
}

export function createSync(_deps: SyncDeps): SyncFn {
  return unavailableSync;
}
