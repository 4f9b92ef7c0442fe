// "Reconcile now" for hosts (ferry serve's POST /api/sync and schedules, the AWS admin and
// reconcile functions): one or every policy, in order, answered as a small summary per
// policy (job counts, not job lists, so an initial sync of 10,000 tags stays a short reply).
import type { FerryConfig } from '../config/schema.js';
import type { EnqueueDeps } from '../jobs/enqueue.js';
import type { Logger } from '../observability/logger.js';
import type { RegistryClient } from '../registry/client.js';
import { reconcilePolicy, type ReconcileResult } from './reconcile.js';
import type { WalkIssue } from './types.js';
import { UnknownPolicyError } from './walk.js';

export interface SyncPoliciesOptions {
  config: Pick<FerryConfig, 'policies'>;
  clients: ReadonlyMap<string, RegistryClient>;
  deps: EnqueueDeps;
  /** One policy by name, or all when absent. Unknown name: UnknownPolicyError. */
  policy?: string | undefined;
  concurrency?: number;
  pageSize?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface PolicySyncSummary {
  policy: string;
  copy: number;
  delete: number;
  inSync: number;
  kept: number;
  repositories: number;
  tags: number;
  /** Jobs created by this run (duplicates of jobs already queued are not counted). */
  enqueued: number;
  /** Planned jobs a job already queued for the same tag absorbed. */
  coalesced: number;
  errorCount: number;
  errors: WalkIssue[];
  ms: number;
}

export interface SyncPoliciesResult {
  policies: PolicySyncSummary[];
}

/** The policies a request covers, in config order. */
export function policiesToSync(config: Pick<FerryConfig, 'policies'>, policy?: string): FerryConfig['policies'] {
  if (policy === undefined) return config.policies;
  const found = config.policies.filter((p) => p.name === policy);
  if (found.length === 0) {
    throw new UnknownPolicyError(`no policy named ${JSON.stringify(policy)} (configured: ${config.policies.map((p) => p.name).join(', ') || 'none'})`);
  }
  return found;
}

export function summarize(result: ReconcileResult): PolicySyncSummary {
  const created = result.enqueued.filter((j) => j.created).length;
  return {
    policy: result.policy,
    copy: result.copy,
    delete: result.delete,
    inSync: result.inSync,
    kept: result.kept,
    repositories: result.repositories,
    tags: result.tags,
    enqueued: created,
    coalesced: result.enqueued.length - created,
    errorCount: result.errorCount,
    errors: result.errors,
    ms: result.ms,
  };
}

/** Reconciles the selected policies one after another (each bounded by `concurrency`). */
export async function syncPolicies(options: SyncPoliciesOptions): Promise<SyncPoliciesResult> {
  const policies = policiesToSync(options.config, options.policy);
  const summaries: PolicySyncSummary[] = [];
  for (const policy of policies) {
    const result = await reconcilePolicy({
      config: options.config,
      clients: options.clients,
      policy,
      deps: options.deps,
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const summary = summarize(result);
    if (summary.errorCount > 0) options.logger?.warn({ policy: policy.name, errorCount: summary.errorCount, errors: summary.errors.slice(0, 5) }, 'reconcile: some registry calls failed; those tags are retried on the next run');
    options.logger?.info({ ...summary, errors: undefined }, `reconciled policy ${policy.name}`);
    summaries.push(summary);
  }
  return { policies: summaries };
}
