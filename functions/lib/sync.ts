// "Reconcile now" for the AWS host: the admin function's sync action and the scheduled
// reconcile function both run the shared reconcile engine through here, with registry
// clients built once per container.
import { syncPolicies, type SyncPoliciesResult } from '../../shared/reconcile/index.js';
import { createRegistryClients } from '../../shared/registry/clients.js';
import type { Runtime } from './runtime.js';

export interface SyncRequest {
  /** One policy, or every policy when absent. */
  policy?: string;
  /** Who asked ("schedule", "admin-function"): logged. */
  trigger: string;
  /** Aborts the walk (the invocation deadline). */
  signal?: AbortSignal;
}

export type SyncResult = SyncPoliciesResult;

export interface SyncFn {
  policies(): string[];
  run(request: SyncRequest): Promise<SyncResult>;
}

export function createSync(runtime: Runtime): SyncFn {
  const { config, backend, logger } = runtime;
  const names = config.policies.map((p) => p.name);
  const clients = createRegistryClients(config);
  return {
    policies: () => names,
    async run(request) {
      logger.info({ policy: request.policy ?? '(all)', trigger: request.trigger }, 'reconcile requested');
      return syncPolicies({
        config,
        clients,
        deps: { queue: backend.queue, store: backend.store },
        ...(request.policy !== undefined ? { policy: request.policy } : {}),
        ...(request.signal ? { signal: request.signal } : {}),
        logger,
      });
    },
  };
}
