// "Reconcile now" as the host sees it: POST /api/sync and the per-policy schedule both
// call a SyncFn. The reconcile engine lives in shared/reconcile; this file adapts it.
import type { FerryConfig } from '../../../shared/config/schema.js';

export interface SyncRequest {
  /** One policy, or every policy when absent. */
  policy?: string | undefined;
  /** Who asked: "admin-api", "schedule", ... (logged). */
  trigger: string;
}

export interface SyncResult {
  policies: Array<{ policy: string } & Record<string, unknown>>;
}

export type SyncFn = (request: SyncRequest) => Promise<SyncResult>;

export class UnknownPolicyError extends Error {
  override readonly name = 'UnknownPolicyError';
}

/** The policies a sync request covers; throws UnknownPolicyError for a name not configured. */
export function selectPolicies(config: FerryConfig, policy: string | undefined): FerryConfig['policies'] {
  if (policy === undefined) return config.policies;
  const found = config.policies.filter((p) => p.name === policy);
  if (found.length === 0) {
    throw new UnknownPolicyError(`no policy named ${JSON.stringify(policy)} (configured: ${config.policies.map((p) => p.name).join(', ') || 'none'})`);
  }
  return found;
}
