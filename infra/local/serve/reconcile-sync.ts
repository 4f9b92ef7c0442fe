// Binds the reconcile engine (shared/reconcile) to the host's SyncFn: POST /api/sync
// {policy?} and each policy's `schedule` call it. One walk per policy at a time: a request
// for a policy already being reconciled joins the running walk instead of starting another.
import type { FerryConfig } from '../../../shared/config/schema.js';
import type { JobQueue, JobStore } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';
import type { FerryMetrics } from '../../../shared/observability/metrics.js';
import type { RegistryClient } from '../../../shared/registry/client.js';
import { reconcilePolicy, type ReconcileResult } from '../../../shared/reconcile/reconcile.js';
import { selectPolicies, type SyncFn, type SyncResult } from './sync.js';

export interface SyncDeps {
  config: FerryConfig;
  clients: Map<string, RegistryClient>;
  queue: JobQueue;
  store: JobStore;
  logger: Logger;
  metrics: FerryMetrics;
}

type PolicySummary = SyncResult['policies'][number];

function summary(r: ReconcileResult): PolicySummary {
  return {
    policy: r.policy,
    copy: r.copy,
    delete: r.delete,
    inSync: r.inSync,
    kept: r.kept,
    repositories: r.repositories,
    tags: r.tags,
    enqueued: r.enqueued.length,
    created: r.enqueued.filter((j) => j.created).length,
    errorCount: r.errorCount,
    errors: r.errors,
    ms: r.ms,
  };
}

export function createSync(deps: SyncDeps): SyncFn {
  const { config, clients, queue, store, logger, metrics } = deps;
  const running = new Map<string, Promise<PolicySummary>>();

  function reconcile(policy: string, trigger: string): Promise<PolicySummary> {
    const current = running.get(policy);
    if (current) return current;
    const run = (async () => {
      logger.info({ policy, trigger }, 'reconcile started');
      const result = await reconcilePolicy({ config, clients, policy, deps: { queue, store } });
      const s = summary(result);
      metrics.jobsEnqueued.inc({ trigger: 'reconcile' }, s.created as number);
      logger.info({ ...s, errors: undefined, trigger }, 'reconcile finished');
      return s;
    })().finally(() => running.delete(policy));
    running.set(policy, run);
    return run;
  }

  return async ({ policy, trigger }) => {
    const policies = selectPolicies(config, policy);
    const results: PolicySummary[] = [];
    for (const p of policies) results.push(await reconcile(p.name, trigger));
    return { policies: results };
  };
}
