// "Reconcile now" for the AWS host: the admin function's sync action and the scheduled
// reconcile function both go through here to the shared reconcile engine.
import type { Runtime } from './runtime.js';

export interface SyncRequest {
  /** One policy, or every policy when absent. */
  policy?: string;
  /** Who asked ("schedule", "admin-function"): logged and recorded on the jobs. */
  trigger: string;
}

export interface SyncResult {
  policies: Array<{ policy: string } & Record<string, unknown>>;
}

export interface SyncFn {
  policies(): string[];
  run(request: SyncRequest): Promise<SyncResult>;
}

export class SyncUnavailableError extends Error {
  override readonly name = 'SyncUnavailableError';
}

export function createSync(runtime: Runtime): SyncFn {
  const names = runtime.config.policies.map((p) => p.name);
  return {
    policies: () => names,
    async run() {
      throw new SyncUnavailableError('this build of ferry has no reconcile engine (shared/reconcile)');
    },
  };
}
