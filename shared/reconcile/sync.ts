// "Reconcile now", the one implementation every host uses: `ferry serve` (POST /api/sync and
// the per-policy schedules), the `ferry sync` CLI's summary, and the AWS admin and reconcile
// functions. One or every policy, in order, answered as a small summary per policy (job
// counts, not job lists, so an initial sync of 10,000 tags stays a short reply).
import type { FerryConfig } from '../config/schema.js';
import type { EnqueueDeps } from '../jobs/enqueue.js';
import type { Logger } from '../observability/logger.js';
import type { FerryMetrics } from '../observability/metrics.js';
import type { RegistryClient } from '../registry/client.js';
import { reconcilePolicy, type ReconcileResult } from './reconcile.js';
import type { WalkIssue } from './types.js';
import { resolvePolicy } from './walk.js';

export interface SyncPoliciesOptions {
  config: Pick<FerryConfig, 'policies'>;
  clients: ReadonlyMap<string, RegistryClient>;
  deps: EnqueueDeps;
  /** One policy by name, or all when absent. Unknown name: UnknownPolicyError. */
  policy?: string | undefined;
  concurrency?: number;
  pageSize?: number;
  logger?: Logger | undefined;
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

/** The policies a request covers, in config order; UnknownPolicyError for a name not configured. */
export function policiesToSync(config: Pick<FerryConfig, 'policies'>, policy?: string): FerryConfig['policies'] {
  return policy === undefined ? config.policies : [resolvePolicy(config, policy)];
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

export interface SyncRequest {
  /** One policy, or every policy when absent. */
  policy?: string | undefined;
  /** Who asked: "admin-api", "schedule", "admin-function", ... (logged). */
  trigger: string;
  /** Aborts the walk (shutdown, an invocation deadline). */
  signal?: AbortSignal | undefined;
}

/** Runs a reconcile-now request. Throws UnknownPolicyError (before walking) for an unknown name. */
export type SyncFn = (request: SyncRequest) => Promise<SyncPoliciesResult>;

export interface SyncDeps {
  config: Pick<FerryConfig, 'policies'>;
  clients: ReadonlyMap<string, RegistryClient>;
  deps: EnqueueDeps;
  logger?: Logger | undefined;
  /** Counts the jobs each run created (ferry_jobs_enqueued_total{trigger="reconcile"}). */
  metrics?: FerryMetrics | undefined;
}

/**
 * A host's SyncFn. One walk per policy at a time: a request for a policy already being
 * reconciled joins the running walk (and its signal) instead of starting a second one.
 */
export function createSync(host: SyncDeps): SyncFn {
  const running = new Map<string, Promise<PolicySyncSummary>>();

  function reconcileOne(policy: string, request: SyncRequest): Promise<PolicySyncSummary> {
    const current = running.get(policy);
    if (current) return current;
    const run = (async () => {
      host.logger?.info({ policy, trigger: request.trigger }, 'reconcile started');
      const { policies } = await syncPolicies({
        config: host.config,
        clients: host.clients,
        deps: host.deps,
        policy,
        logger: host.logger,
        ...(request.signal ? { signal: request.signal } : {}),
      });
      const summary = policies[0] as PolicySyncSummary;
      host.metrics?.jobsEnqueued.inc({ trigger: 'reconcile' }, summary.enqueued);
      return summary;
    })().finally(() => running.delete(policy));
    running.set(policy, run);
    return run;
  }

  return async (request) => {
    const policies = policiesToSync(host.config, request.policy);
    const summaries: PolicySyncSummary[] = [];
    for (const p of policies) summaries.push(await reconcileOne(p.name, request));
    return { policies: summaries };
  };
}
