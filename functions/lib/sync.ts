// "Reconcile now" for the AWS host: the admin function's sync action and the scheduled
// reconcile function both run the shared implementation (shared/reconcile/sync.ts), with
// registry clients built once per container.
import { createSync as createSharedSync, type SyncFn } from '../../shared/reconcile/sync.js';
import { createRegistryClients } from '../../shared/registry/clients.js';
import type { Runtime } from './runtime.js';

export function createSync(runtime: Runtime): SyncFn {
  const { config, backend, logger } = runtime;
  return createSharedSync({ config, clients: createRegistryClients(config), deps: { queue: backend.queue, store: backend.store }, logger });
}
