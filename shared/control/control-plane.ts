// The control plane: every admin action and view, one implementation behind the HTTP API
// (`ferry serve`, `ferry console`), the CLI and the AWS admin function. Hosts inject what
// only they have (registry clients for sync/verify, the in-process registry health).
import type { FerryConfig } from '../config/schema.js';
import { describeDeadLetters, type DeadLetterView } from '../jobs/dead-letters.js';
import { JOB_STATUSES, type Job, type JobStatus } from '../jobs/model.js';
import { systemClock, type Backend, type Clock, type JobPage, type JobQuery, type QueueDepth, type ReplaySelector } from '../jobs/ports.js';
import { replayDeadJobs } from '../jobs/replay.js';
import type { Logger } from '../observability/logger.js';
import { createSync, type PolicySyncSummary, type SyncFn } from '../reconcile/sync.js';
import { verifyPolicy, type VerifyResult } from '../reconcile/verify.js';
import { resolvePolicy, UnknownPolicyError } from '../reconcile/walk.js';
import type { RegistryClient } from '../registry/client.js';
import { cancelJob, retryJob, type JobActionResult } from './job-actions.js';
import { DELIVERY_LIMITS, type Delivery, type PolicyState } from '../jobs/control-ports.js';
import type { RegistryHealth, RegistryHealthTracker } from './registry-health.js';

export interface ControlPlaneDeps {
  config: FerryConfig;
  backend: Backend;
  clock?: Clock;
  logger?: Logger;
  /** Registry clients for sync and verify (built on first use: credentials load only then). */
  clients?: () => ReadonlyMap<string, RegistryClient>;
  /** The host's reconcile-now (joins a walk already running); built from `clients` when absent. */
  sync?: SyncFn;
  /** This process's view of registry requests (ferry serve). */
  health?: RegistryHealthTracker;
  /** Rate-control state and pull quota per registry, when the host tracks them. */
  registryExtras?: (registry: string) => Pick<RegistryHealth, 'rateControl' | 'pullQuota'> | undefined;
}

/** A registry name the config does not have (policies use reconcile's UnknownPolicyError). */
export class UnknownNameError extends Error {
  override readonly name = 'UnknownNameError';
}

/** True for an unknown policy or registry name: the caller's mistake, not ferry's. */
export function isUnknownName(err: unknown): err is Error {
  return err instanceof UnknownNameError || err instanceof UnknownPolicyError;
}

export interface PolicyView extends PolicyState {
  source: string;
  destinations: string[];
  deletes: boolean;
  schedule?: string;
  /** Job records by status (counted up to COUNT_CAP each). */
  jobs: Partial<Record<JobStatus, number>>;
}

export interface RegistryView extends RegistryHealth {
  url: string;
  kind: string;
  /** Policies reading from it / writing to it. */
  sourceOf: string[];
  destinationOf: string[];
  webhookPath?: string;
}

export interface Overview {
  queue: QueueDepth;
  jobs: Partial<Record<JobStatus, number>>;
  /** Failed and dead jobs by policy and by destination registry. */
  failures: { byPolicy: Record<string, number>; byRegistry: Record<string, number> };
  /** Jobs finished per minute over the last hour (oldest first), from recent records. */
  throughput: Array<{ minute: string; finished: number; bytes: number }>;
  /** Event received -> replica written, seconds, of recently finished jobs. */
  lag: { samples: number; p50?: number; p90?: number; max?: number };
  paused: string[];
}

const COUNT_CAP = 1000;
const RECENT_JOBS = 500;

export type ControlPlane = ReturnType<typeof createControlPlane>;

export function createControlPlane(deps: ControlPlaneDeps) {
  const { config, backend } = deps;
  const clock = deps.clock ?? systemClock;
  const control = backend.control;
  const actionDeps = { queue: backend.queue, store: backend.store, clock };
  let ownSync: SyncFn | undefined;

  function policyConfig(name: string): FerryConfig['policies'][number] {
    return resolvePolicy(config, name);
  }

  async function countBy(query: Omit<JobQuery, 'limit' | 'cursor'>): Promise<number> {
    let total = 0;
    let cursor: string | undefined;
    do {
      const page: JobPage = await backend.store.list({ ...query, limit: COUNT_CAP, ...(cursor ? { cursor } : {}) });
      total += page.jobs.length;
      cursor = page.cursor;
    } while (cursor && total < COUNT_CAP);
    return total;
  }

  async function countsByStatus(policy?: string): Promise<Partial<Record<JobStatus, number>>> {
    const out: Partial<Record<JobStatus, number>> = {};
    for (const status of JOB_STATUSES) {
      const n = await countBy({ status, ...(policy !== undefined ? { policy } : {}) });
      if (n > 0) out[status] = n;
    }
    return out;
  }

  async function state(name: string): Promise<PolicyState> {
    return (await control.getPolicy(name)) ?? { name, paused: false };
  }

  async function allJobs(query: Omit<JobQuery, 'limit' | 'cursor'>): Promise<Job[]> {
    const out: Job[] = [];
    let cursor: string | undefined;
    do {
      const page = await backend.store.list({ ...query, limit: 500, ...(cursor ? { cursor } : {}) });
      out.push(...page.jobs);
      cursor = page.cursor;
    } while (cursor);
    return out;
  }

  const plane = {
    config,

    listJobs: (query: JobQuery) => backend.store.list(query),
    getJob: (id: string) => backend.store.get(id),
    cancel: (id: string, by: string): Promise<JobActionResult> => cancelJob(actionDeps, id, by),
    retry: (id: string, by: string): Promise<JobActionResult> => retryJob(actionDeps, id, by),
    listDead: (limit?: number): Promise<DeadLetterView[]> => describeDeadLetters(backend, limit),
    replay: (selector: ReplaySelector, by: string) => replayDeadJobs(actionDeps, selector, by),

    async isPaused(policy: string): Promise<boolean> {
      return (await control.getPolicy(policy))?.paused === true;
    },

    async policy(name: string): Promise<PolicyView> {
      const p = policyConfig(name);
      return {
        ...(await state(name)),
        source: p.source,
        destinations: p.destinations.map((d) => `${d.registry}/${d.repository}`),
        deletes: p.deletes,
        ...(p.schedule ? { schedule: p.schedule } : {}),
        jobs: await countsByStatus(name),
      };
    },

    async policies(): Promise<PolicyView[]> {
      const out: PolicyView[] = [];
      for (const p of config.policies) out.push(await plane.policy(p.name));
      return out;
    },

    /** Paused: new events still become jobs, held `paused` when a worker picks them up. */
    async pause(name: string, by: string): Promise<PolicyState> {
      policyConfig(name);
      const next: PolicyState = { ...(await state(name)), paused: true, changedAt: clock.now().toISOString(), changedBy: by };
      await control.putPolicy(next);
      deps.logger?.info({ policy: name, by }, 'policy paused');
      return next;
    },

    /** Unpauses, then queues the held jobs again, oldest first. */
    async resume(name: string, by: string): Promise<PolicyState & { released: string[] }> {
      policyConfig(name);
      const next: PolicyState = { ...(await state(name)), paused: false, changedAt: clock.now().toISOString(), changedBy: by };
      await control.putPolicy(next);
      const held = (await allJobs({ policy: name, status: 'paused' })).reverse();
      const released: Job[] = [];
      for (const job of held) {
        const queued = await backend.store.transition(job.id, ['paused'], { status: 'queued' });
        if (queued) released.push(queued);
      }
      if (released.length > 0) await backend.queue.send(released.map((j) => ({ jobId: j.id, key: j.key })));
      deps.logger?.info({ policy: name, by, released: released.length }, 'policy resumed');
      return { ...next, released: released.map((j) => j.id) };
    },

    /** Reconcile now; a request for a policy already syncing joins that walk. */
    async sync(name: string, by: string): Promise<PolicySyncSummary> {
      policyConfig(name);
      ownSync ??= deps.sync ?? createSync({ config, clients: requireClients(), deps: actionDeps, logger: deps.logger });
      const summary = (await ownSync({ policy: name, trigger: by })).policies[0]!;
      const s = await state(name);
      await control.putPolicy({ ...s, lastSync: { at: clock.now().toISOString(), by, enqueued: summary.enqueued, inSync: summary.inSync, errorCount: summary.errorCount } });
      return summary;
    },

    async verify(name: string, by: string): Promise<VerifyResult> {
      policyConfig(name);
      const result = await verifyPolicy({ config, clients: requireClients(), policy: name });
      const s = await state(name);
      await control.putPolicy({ ...s, lastVerify: { at: clock.now().toISOString(), by, inSync: result.inSync, differences: result.differences.length, errorCount: result.errors.length } });
      return result;
    },

    registries(): RegistryView[] {
      return Object.entries(config.registries).map(([name, r]) => {
        const health = deps.health?.health(name) ?? { registry: name, recent: { requests: 0, throttled: 0, serverErrors: 0, windowSeconds: 0 } };
        const sourceOf = config.policies.filter((p) => p.source === name).map((p) => p.name);
        return {
          ...health,
          ...(deps.registryExtras?.(name) ?? {}),
          url: r.url,
          kind: r.kind,
          sourceOf,
          destinationOf: config.policies.filter((p) => p.destinations.some((d) => d.registry === name)).map((p) => p.name),
          ...(sourceOf.length > 0 ? { webhookPath: `/webhooks/${encodeURIComponent(name)}` } : {}),
        };
      });
    },

    async deliveries(registry: string | undefined, limit = 50): Promise<Delivery[]> {
      const bounded = Math.min(Math.max(1, limit), DELIVERY_LIMITS.perRegistry);
      if (registry !== undefined) {
        if (!Object.hasOwn(config.registries, registry)) throw new UnknownNameError(`no registry named ${JSON.stringify(registry)}`);
        return control.listDeliveries(registry, bounded);
      }
      const all = (await Promise.all(Object.keys(config.registries).map((r) => control.listDeliveries(r, bounded)))).flat();
      return all.sort((a, b) => b.at.localeCompare(a.at)).slice(0, bounded);
    },

    recordDelivery: (delivery: Delivery) => control.recordDelivery(delivery),

    async overview(): Promise<Overview> {
      const now = clock.now().getTime();
      const [queue, jobs, failed, dead, recent] = await Promise.all([
        backend.queue.depth(),
        countsByStatus(),
        allJobsCapped({ status: 'failed' }),
        allJobsCapped({ status: 'dead' }),
        backend.store.list({ limit: RECENT_JOBS, since: new Date(now - 3600_000).toISOString() }),
      ]);
      const byPolicy: Record<string, number> = {};
      const byRegistry: Record<string, number> = {};
      for (const j of [...failed, ...dead]) {
        byPolicy[j.policy] = (byPolicy[j.policy] ?? 0) + 1;
        const reg = j.lastError?.registry ?? j.destination.registry;
        byRegistry[reg] = (byRegistry[reg] ?? 0) + 1;
      }
      const minutes = new Map<number, { finished: number; bytes: number }>();
      const start = Math.floor(now / 60_000) - 59;
      for (let m = start; m <= start + 59; m++) minutes.set(m, { finished: 0, bytes: 0 });
      const lags: number[] = [];
      for (const j of recent.jobs) {
        if (!j.finishedAt || (j.status !== 'succeeded' && j.status !== 'skipped')) continue;
        const t = Date.parse(j.finishedAt);
        const bucket = minutes.get(Math.floor(t / 60_000));
        if (bucket) {
          bucket.finished++;
          bucket.bytes += j.stats?.bytes ?? 0;
        }
        if (j.status === 'succeeded') lags.push(Math.max(0, (t - Date.parse(j.createdAt)) / 1000));
      }
      lags.sort((a, b) => a - b);
      const pick = (q: number) => lags[Math.min(lags.length - 1, Math.floor(q * (lags.length - 1)))];
      const paused: string[] = [];
      for (const p of config.policies) if (await plane.isPaused(p.name)) paused.push(p.name);
      return {
        queue,
        jobs,
        failures: { byPolicy, byRegistry },
        throughput: [...minutes].map(([m, v]) => ({ minute: new Date(m * 60_000).toISOString(), ...v })),
        lag: lags.length === 0 ? { samples: 0 } : { samples: lags.length, p50: pick(0.5)!, p90: pick(0.9)!, max: lags[lags.length - 1]! },
        paused,
      };
    },
  };

  async function allJobsCapped(query: Omit<JobQuery, 'limit' | 'cursor'>): Promise<Job[]> {
    return (await backend.store.list({ ...query, limit: COUNT_CAP })).jobs;
  }

  function requireClients(): ReadonlyMap<string, RegistryClient> {
    if (!deps.clients) throw new Error('this host has no registry clients: sync and verify are not available here');
    return deps.clients();
  }

  return plane;
}
