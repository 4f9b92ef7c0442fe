// "Reconcile now" for the AWS host: the admin function's sync action and the scheduled
// reconcile function both run the shared implementation (shared/reconcile/sync.ts), with
// registry clients built once per container. The reconcile engine and the registry
// transport (undici) are imported on the first sync, not when the function loads: the
// admin function mostly answers job queries, and both start faster without them.
import type { SyncFn } from '../../shared/reconcile/sync.js';
import type { Runtime } from './runtime.js';

export function createSync(runtime: Runtime): SyncFn {
  const { config, backend, logger } = runtime;
  let ready: Promise<SyncFn> | undefined;
  const load = async (): Promise<SyncFn> => {
    const [{ createSync: createSharedSync }, { createRegistryClients }] = await Promise.all([
      import('../../shared/reconcile/sync.js'),
      import('../../shared/registry/clients.js'),
    ]);
    return createSharedSync({ config, clients: createRegistryClients(config), deps: { queue: backend.queue, store: backend.store }, logger });
  };
  return async (request) => {
    const created = (ready ??= load());
    created.catch(() => { if (ready === created) ready = undefined; });
    return (await created)(request);
  };
}
