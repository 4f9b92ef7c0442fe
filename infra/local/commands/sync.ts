// `ferry sync [--config ...] [--policy NAME] [--dry-run] [--wait] [--json]`: reconcile now
// (initial replication, drift repair). Without --wait the jobs go to the configured backend
// for `ferry serve` (or the AWS workers) to run. With --wait this process also runs a worker
// pool, the same stack `ferry serve` runs, so the command finishes on its own even when no
// server is up; a running server takes jobs from the same queue and that is fine.
import type { Command } from 'commander';
import type { FerryConfig } from '../../../shared/config/schema.js';
import type { Job } from '../../../shared/jobs/model.js';
import type { Backend } from '../../../shared/jobs/ports.js';
import type { PlanItem, ReconcileProgress, ReconcileResult } from '../../../shared/reconcile/reconcile.js';
import type { JobTally } from '../../../shared/reconcile/await-jobs.js';
import type { PolicySyncSummary } from '../../../shared/reconcile/sync.js';
import type { WalkIssue } from '../../../shared/reconcile/types.js';
import type { RegistryClient } from '../../../shared/registry/client.js';
import { CliError, EXIT_USAGE, printJson, printTable, runAction } from '../cli/output.js';

export interface SyncCommandOptions {
  config?: string;
  policy?: string;
  dryRun: boolean;
  wait: boolean;
  json: boolean;
  concurrency: string;
}

/** The stable `--json` shape. */
export interface SyncJson {
  dryRun: boolean;
  policies: Array<PolicySyncSummary & { items?: PlanItem[] }>;
  /** With --wait: how the enqueued jobs ended. */
  jobs?: {
    total: number;
    succeeded: number;
    skipped: number;
    dead: number;
    deadJobs: Array<{ id: string; source: string; destination: string; error?: string }>;
  };
}

export function register(program: Command): void {
  program
    .command('sync')
    .description('Reconcile now (initial sync, drift repair): enqueue jobs for what destinations miss or have at another digest, and deletes when the policy propagates them')
    .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
    .option('--policy <name>', 'only this policy (default: every policy)')
    .option('--dry-run', 'show what would be copied and deleted; change nothing', false)
    .option('--wait', 'run the jobs in this process too and wait until all are finished; exit 1 if any failed', false)
    .option('--concurrency <n>', 'tags compared at once (registry limits still apply)', '8')
    .option('--json', 'machine-readable output', false)
    .action(runAction((opts: SyncCommandOptions) => syncCommand(opts)));
}

export function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new CliError(`--concurrency must be an integer from 1 to 256, got ${JSON.stringify(value)}`, EXIT_USAGE);
  return n;
}

/** sha256:0123456789ab (enough to tell digests apart in a table). */
export function shortDigest(digest: string | undefined): string {
  if (!digest) return '';
  const colon = digest.indexOf(':');
  return digest.slice(0, colon + 13);
}

export function describeIssue(policy: string, issue: WalkIssue): string {
  const where = [issue.repository, issue.tag].filter(Boolean).join(':');
  const status = issue.status !== undefined ? ` (HTTP ${issue.status})` : '';
  return `policy ${policy}: ${issue.operation}${where ? ` ${where}` : ''}${status}: ${issue.message}`;
}

/**
 * One rewritten line on stderr, only on a TTY (and never with --json): progress for
 * people, nothing in logs or pipes. Throttled so a fast walk does not flood the terminal.
 */
export function statusLine(enabled: boolean): { update(text: string): void; done(): void } {
  const stream = process.stderr;
  const active = enabled && stream.isTTY === true;
  let last = 0;
  let shown = false;
  return {
    update(text) {
      if (!active) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      stream.write(`\r\x1b[K${text.slice(0, Math.max(20, (stream.columns ?? 80) - 1))}`);
      shown = true;
    },
    done() {
      if (active && shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

function progressText(policy: string, p: ReconcileProgress, dryRun: boolean): string {
  const jobs = dryRun ? '' : `, ${p.enqueued} enqueued`;
  return `${policy}: ${p.repositories} repositories, ${p.tags} tags compared: ${p.copy} to copy, ${p.delete} to delete, ${p.inSync} in sync${jobs}`;
}

function jobRef(job: Job): { source: string; destination: string } {
  return {
    source: `${job.source.registry}/${job.source.repository}:${job.source.reference}`,
    destination: `${job.destination.registry}/${job.destination.repository}`,
  };
}

async function syncCommand(opts: SyncCommandOptions): Promise<void> {
  const concurrency = parseConcurrency(opts.concurrency);
  if (opts.dryRun && opts.wait) throw new CliError('--dry-run and --wait cannot be combined (a dry run enqueues nothing to wait for)', EXIT_USAGE);
  const [{ loadCliConfig }, reconcile, sync] = await Promise.all([
    import('../cli/config.js'),
    import('../../../shared/reconcile/reconcile.js'),
    import('../../../shared/reconcile/sync.js'),
  ]);
  const config = await loadCliConfig(opts.config);
  let policies: FerryConfig['policies'];
  try {
    policies = sync.policiesToSync(config, opts.policy);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_USAGE);
  }
  if (policies.length === 0) throw new CliError('no policies configured: nothing to sync', EXIT_USAGE);

  const status = statusLine(!opts.json);
  const results: ReconcileResult[] = [];
  let tally: JobTally | undefined;
  const run = async (clients: ReadonlyMap<string, RegistryClient>, backend: Backend | undefined): Promise<ReconcileResult[]> => {
    for (const policy of policies) {
      const result = await reconcile.reconcilePolicy({
        config,
        clients,
        policy,
        ...(backend ? { deps: { queue: backend.queue, store: backend.store } } : {}),
        dryRun: opts.dryRun,
        concurrency,
        onProgress: (p) => status.update(progressText(policy.name, p, opts.dryRun)),
      });
      results.push(result);
    }
    return results;
  };

  try {
    if (opts.dryRun) {
      // A plan touches no job state: no backend is opened (not even the SQLite file).
      const { createRegistryClients } = await import('../../../shared/registry/clients.js');
      const clients = createRegistryClients(config);
      try {
        await run(clients, undefined);
      } finally {
        await Promise.allSettled([...clients.values()].map((c) => c.close()));
      }
    } else if (opts.wait) {
      tally = await syncAndWait(config, run, status);
    } else {
      const [{ openBackend }, { createRegistryClients }] = await Promise.all([
        import('../../../shared/adapters/open.js'),
        import('../../../shared/registry/clients.js'),
      ]);
      const backend = await openBackend(config);
      const clients = createRegistryClients(config);
      try {
        await run(clients, backend);
      } finally {
        await Promise.allSettled([...clients.values()].map((c) => c.close()));
        await backend.close();
      }
    }
  } finally {
    status.done();
  }

  const errorCount = results.reduce((n, r) => n + r.errorCount, 0);
  const output: SyncJson = {
    dryRun: opts.dryRun,
    policies: results.map((r) => ({ ...sync.summarize(r), ...(opts.dryRun && r.items ? { items: r.items } : {}) })),
  };
  if (tally) {
    output.jobs = {
      total: tally.total,
      succeeded: tally.succeeded,
      skipped: tally.skipped,
      dead: tally.dead,
      deadJobs: tally.deadJobs.map((job) => ({ id: job.id, ...jobRef(job), ...(job.lastError ? { error: job.lastError.message } : {}) })),
    };
  }
  if (opts.json) printJson(output);
  else await printHuman(output, results);
  for (const r of results) for (const issue of r.errors) process.stderr.write(`ferry: ${describeIssue(r.policy, issue)}\n`);
  for (const r of results) {
    if (r.errorCount > r.errors.length) process.stderr.write(`ferry: policy ${r.policy}: ${r.errorCount - r.errors.length} more registry errors not shown\n`);
  }
  // Registry errors leave tags unchecked; dead jobs left the destination unrepaired.
  if (errorCount > 0 || (tally && tally.dead > 0)) process.exitCode = 1;
}

/** Runs the reconcile with an in-process worker pool taking jobs as they are enqueued, then waits for all of them. */
async function syncAndWait(
  config: FerryConfig,
  run: (clients: ReadonlyMap<string, RegistryClient>, backend: Backend) => Promise<ReconcileResult[]>,
  status: ReturnType<typeof statusLine>,
): Promise<JobTally> {
  const [{ openBackend }, { createWorkerStack }, { awaitJobs }, { createLogger }] = await Promise.all([
    import('../../../shared/adapters/open.js'),
    import('../serve/worker-stack.js'),
    import('../../../shared/reconcile/await-jobs.js'),
    import('../../../shared/observability/logger.js'),
  ]);
  const backend = await openBackend(config);
  // Job failures are worth seeing; per-job success lines are not (the summary counts them).
  const logger = createLogger({ name: 'ferry-sync', level: process.env.FERRY_LOG_LEVEL ?? 'warn', destination: process.stderr });
  const workers = createWorkerStack(config, backend, { logger });
  try {
    // Workers start at once and copy while the walk is still enqueueing. The walk shares
    // their clients, so one set of registry limits covers both.
    workers.pool.start();
    const results = await run(workers.clients, backend);
    const ids = results.flatMap((r) => r.enqueued.map((j) => j.id));
    return await awaitJobs(backend.store, ids, {
      // SQLite reads are cheap: a short poll ends the wait soon after the last job, and
      // each job this process's workers finish looks at once.
      ...(config.backend === 'embedded' ? { pollMs: 50 } : {}),
      wake: () => workers.pool.handled(),
      onProgress: (t) => status.update(`jobs: ${t.total - t.pending}/${t.total} finished (${t.succeeded} copied or deleted, ${t.skipped} skipped, ${t.dead} dead)`),
    });
  } finally {
    await workers.pool.drain(config.worker.shutdownGrace);
    await workers.close();
    await backend.close();
  }
}

async function printHuman(output: SyncJson, results: ReconcileResult[]): Promise<void> {
  const out = process.stdout;
  for (const p of output.policies) {
    const kept = p.kept > 0 ? `, ${p.kept} kept (override: false)` : '';
    out.write(`policy ${p.policy}: ${p.repositories} repositories, ${p.tags} tags: ${p.copy} to copy, ${p.delete} to delete, ${p.inSync} in sync${kept}\n`);
    if (!output.dryRun) {
      const absorbed = p.coalesced > 0 ? ` (${p.coalesced} already queued)` : '';
      out.write(`  ${p.enqueued} jobs enqueued${absorbed}\n`);
    } else if (p.copy + p.delete === 0) {
      out.write(`  nothing to do\n`);
    }
  }
  if (output.dryRun) {
    const items = results.flatMap((r) => r.items ?? []);
    if (items.length > 0) {
      await printTable(items, [
        { header: 'ACTION', value: (i) => i.action },
        { header: 'REASON', value: (i) => i.reason },
        { header: 'SOURCE', value: (i) => `${i.source.registry}/${i.source.repository}:${i.source.reference}` },
        { header: 'DESTINATION', value: (i) => `${i.destination.registry}/${i.destination.repository}:${i.source.reference}` },
        { header: 'SOURCE DIGEST', value: (i) => shortDigest(i.sourceDigest) },
        { header: 'DEST DIGEST', value: (i) => shortDigest(i.destinationDigest) },
      ]);
    }
  }
  if (output.jobs) {
    const j = output.jobs;
    out.write(`jobs: ${j.total} total, ${j.succeeded} succeeded, ${j.skipped} skipped, ${j.dead} dead\n`);
    if (j.deadJobs.length > 0) {
      await printTable(j.deadJobs, [
        { header: 'ID', value: (d) => d.id },
        { header: 'SOURCE', value: (d) => d.source },
        { header: 'DESTINATION', value: (d) => d.destination },
        { header: 'ERROR', value: (d) => d.error ?? '' },
      ]);
    }
  }
}
