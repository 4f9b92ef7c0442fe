// Reconcile one policy: walk source and destinations, and enqueue a job for every tag the
// destination is missing or has at another digest, plus (deletes: true) a job for every
// destination tag the source no longer has. Jobs converge (docs/architecture.md): a delete job names
// the tag, and the worker, finding it gone at the source, deletes it at the destination.
// Initial replication and drift repair are the same operation.
import { enqueue, type EnqueueDeps, type JobSpec } from '../jobs/enqueue.js';
import type { JobDestination, Trigger } from '../jobs/model.js';
import { systemClock } from '../jobs/ports.js';
import type { Finding, WalkCounts, WalkIssue } from './types.js';
import { emptyCounts } from './types.js';
import { countEvent, resolvePolicy, walkPolicy, type WalkOptions } from './walk.js';

export interface PlanItem {
  action: 'copy' | 'delete';
  /** Why: missing or different at the destination (copy), or extra there (delete). */
  reason: 'missing' | 'different' | 'extra';
  source: { registry: string; repository: string; reference: string };
  destination: JobDestination;
  sourceDigest?: string;
  destinationDigest?: string;
}

export interface EnqueuedJob {
  id: string;
  key: string;
  /** false: a job for the same key was already queued and absorbed this one. */
  created: boolean;
}

export interface ReconcileProgress extends WalkCounts {
  copy: number;
  delete: number;
  enqueued: number;
}

export interface ReconcileOptions extends WalkOptions {
  /** Where jobs go; required unless dryRun. */
  deps?: EnqueueDeps;
  /** Plan only: compare, list what would be done, enqueue nothing. */
  dryRun?: boolean;
  /** Jobs per enqueue call (one queue send each). Default 50. */
  batchSize?: number;
  /** Keep the planned items in the result (always on for dry runs). */
  collectItems?: boolean;
  /** Recorded on every job as its trigger time. Default now. */
  at?: Date;
  onProgress?: (progress: ReconcileProgress) => void;
  /** Called for each batch right after it is durably enqueued. */
  onEnqueued?: (jobs: EnqueuedJob[]) => void;
}

/** Registry failures kept in a result (the count covers all of them). */
export const MAX_REPORTED_ISSUES = 100;

export interface ReconcileResult {
  policy: string;
  dryRun: boolean;
  /** Planned copy jobs (missing + different). */
  copy: number;
  /** Planned delete jobs (extra; deletes: true only). */
  delete: number;
  inSync: number;
  /** Different at the destination but left alone: the policy has override: false. */
  kept: number;
  repositories: number;
  tags: number;
  /** Jobs enqueued (empty on a dry run). */
  enqueued: EnqueuedJob[];
  /** The plan, on dry runs or with collectItems. */
  items?: PlanItem[];
  /** How many registry calls failed (the walk went on past them). */
  errorCount: number;
  /** The first MAX_REPORTED_ISSUES of them. */
  errors: WalkIssue[];
  ms: number;
}

export class ReconcileOptionsError extends Error {
  override readonly name = 'ReconcileOptionsError';
}

export function planItem(finding: Finding, sourceRegistry: string): PlanItem | undefined {
  if (finding.kind === 'in-sync' || finding.kind === 'kept') return undefined;
  const item: PlanItem = {
    action: finding.kind === 'extra' ? 'delete' : 'copy',
    reason: finding.kind,
    source: { registry: sourceRegistry, repository: finding.repository, reference: finding.tag },
    destination: finding.destination,
  };
  if (finding.sourceDigest) item.sourceDigest = finding.sourceDigest;
  if (finding.destinationDigest) item.destinationDigest = finding.destinationDigest;
  return item;
}

export function jobSpec(policy: string, item: PlanItem): JobSpec {
  return {
    policy,
    source: { ...item.source, ...(item.sourceDigest ? { digest: item.sourceDigest } : {}) },
    destination: item.destination,
  };
}

export async function reconcilePolicy(options: ReconcileOptions): Promise<ReconcileResult> {
  const started = Date.now();
  const policy = resolvePolicy(options.config, options.policy);
  const dryRun = options.dryRun ?? false;
  const deps = options.deps;
  if (!dryRun && !deps) throw new ReconcileOptionsError(`reconcile of policy ${policy.name}: deps { queue, store } are required unless dryRun`);
  const batchSize = Math.max(1, options.batchSize ?? 50);
  const trigger: Trigger = { kind: 'reconcile', at: (options.at ?? (deps?.clock ?? systemClock).now()).toISOString() };

  const counts = emptyCounts();
  const progress = (): ReconcileProgress => ({ ...counts, copy: counts.missing + counts.different, delete: counts.extra, enqueued: enqueued.length });
  const enqueued: EnqueuedJob[] = [];
  const items: PlanItem[] | undefined = dryRun || options.collectItems ? [] : undefined;
  const errors: WalkIssue[] = [];
  let batch: JobSpec[] = [];
  // Batches start at one job and double up to batchSize: workers get the first job while
  // the walk goes on, and a walk of thousands of tags still sends few batches.
  let nextBatchSize = 1;

  async function flush(): Promise<void> {
    if (batch.length === 0 || !deps) return;
    const specs = batch;
    batch = [];
    nextBatchSize = Math.min(batchSize, nextBatchSize * 2);
    const results = await enqueue(deps, specs, trigger);
    const jobs = results.map(({ job, created }) => ({ id: job.id, key: job.key, created }));
    enqueued.push(...jobs);
    options.onEnqueued?.(jobs);
  }

  const walk = walkPolicy({ ...options, policy });
  try {
    for await (const event of walk) {
      countEvent(counts, event);
      if (event.type === 'issue' && errors.length < MAX_REPORTED_ISSUES) errors.push(event.issue);
      if (event.type === 'finding') {
        const item = planItem(event.finding, policy.source);
        if (item) {
          items?.push(item);
          if (!dryRun) batch.push(jobSpec(policy.name, item));
          if (batch.length >= nextBatchSize) await flush();
        }
      }
      if (event.type !== 'tag') options.onProgress?.(progress());
    }
  } catch (err) {
    // Stopped by its deadline (a Lambda invocation): keep the work already found.
    if (options.signal?.aborted) await flush().catch(() => {});
    throw err;
  }
  await flush();
  options.onProgress?.(progress());

  const p = progress();
  return {
    policy: policy.name,
    dryRun,
    copy: p.copy,
    delete: p.delete,
    inSync: counts.inSync,
    kept: counts.kept,
    repositories: counts.repositories,
    tags: counts.tags,
    enqueued,
    ...(items ? { items } : {}),
    errorCount: counts.errors,
    errors,
    ms: Date.now() - started,
  };
}
