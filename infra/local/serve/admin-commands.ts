// The admin CLI (`ferry jobs`, `ferry job`, `ferry dlq list|replay`). It acts on the
// configured backend directly, so it works while `ferry serve` runs (SQLite WAL allows a
// second connection) and against a deployed AWS stack alike.
import { userInfo } from 'node:os';
import { openBackend } from '../../../shared/adapters/open.js';
import type { Job } from '../../../shared/jobs/model.js';
import type { Backend, ReplaySelector } from '../../../shared/jobs/ports.js';
import { replayDeadJobs } from '../../../shared/jobs/replay.js';
import { loadCliConfig } from '../cli/config.js';
import type { FerryConfig } from '../../../shared/config/schema.js';
import { createControlPlane, isUnknownName } from '../../../shared/control/control-plane.js';
import { CliError, EXIT_USAGE, printJson, printTable } from '../cli/output.js';
import { AdminInputError, parseJobsQuery } from './admin-requests.js';
import { describeDeadLetters, type DeadLetterView } from '../../../shared/jobs/dead-letters.js';
import { JOB_COLUMNS, destinationRef, errorSummary, jobDetails, jobRow, sourceRef } from './job-view.js';

/** These commands never contact a registry: credentials and webhook secrets need not be set. */
async function withBackend<T>(configPath: string | undefined, use: (backend: Backend, config: FerryConfig) => Promise<T>): Promise<T> {
  const config = await loadCliConfig(configPath, { deferRegistrySecrets: true });
  const backend = await openBackend(config);
  try {
    return await use(backend, config);
  } finally {
    await backend.close();
  }
}

/** `ferry jobs cancel|retry ID...`: one line per id; exit 1 when any could not be done. */
export async function jobActionCommand(action: 'cancel' | 'retry', ids: string[], opts: { config?: string; json?: boolean }): Promise<void> {
  if (ids.length === 0) throw new CliError(`say which jobs to ${action}: one or more job ids`, EXIT_USAGE);
  const by = actor();
  const results = await withBackend(opts.config, async (backend, config) => {
    const plane = createControlPlane({ config, backend });
    const out: Array<{ id: string; ok: boolean; result?: string; status?: string; detail?: string }> = [];
    for (const id of ids) {
      const r = action === 'cancel' ? await plane.cancel(id, by) : await plane.retry(id, by);
      out.push(r.ok ? { id, ok: true, result: r.result, status: r.job.status } : { id, ok: false, detail: r.detail, ...(r.job ? { status: r.job.status } : {}) });
    }
    return out;
  });
  if (opts.json) printJson({ results });
  else for (const r of results) process.stdout.write(r.ok ? `${r.id}: ${r.result}\n` : `${r.id}: not done: ${r.detail}\n`);
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) throw new CliError(`${failed.length} of ${results.length} job${results.length === 1 ? '' : 's'} could not be ${action === 'cancel' ? 'cancelled' : 'retried'}`);
}

/** `ferry policy list`. */
export async function policyListCommand(opts: { config?: string; json?: boolean }): Promise<void> {
  const policies = await withBackend(opts.config, (backend, config) => createControlPlane({ config, backend }).policies());
  if (opts.json) {
    printJson({ policies });
    return;
  }
  if (policies.length === 0) {
    process.stdout.write('no policies configured\n');
    return;
  }
  await printTable(policies.map((p) => ({
    policy: p.name,
    state: p.paused ? `paused${p.changedBy ? ` by ${p.changedBy}` : ''}` : 'active',
    source: p.source,
    destinations: p.destinations.join(', '),
    jobs: Object.entries(p.jobs).map(([s, n]) => `${s} ${n}`).join(', '),
    'last sync': p.lastSync ? `${p.lastSync.at} (${p.lastSync.enqueued} enqueued)` : '',
    'last verify': p.lastVerify ? `${p.lastVerify.at} (${p.lastVerify.inSync ? 'in sync' : `${p.lastVerify.differences} differences`})` : '',
  })), ['policy', 'state', 'source', 'destinations', 'jobs', 'last sync', 'last verify']);
}

/** `ferry policy pause|resume NAME`. */
export async function policyStateCommand(action: 'pause' | 'resume', name: string, opts: { config?: string; json?: boolean }): Promise<void> {
  const by = actor();
  const result = await withBackend(opts.config, async (backend, config) => {
    const plane = createControlPlane({ config, backend });
    try {
      return action === 'pause' ? await plane.pause(name, by) : await plane.resume(name, by);
    } catch (err) {
      if (isUnknownName(err)) throw new CliError(err.message, EXIT_USAGE);
      throw err;
    }
  });
  if (opts.json) printJson(result);
  else if (action === 'pause') process.stdout.write(`policy ${name} paused: new jobs are held until \`ferry policy resume ${name}\`\n`);
  else process.stdout.write(`policy ${name} resumed; ${(result as { released?: string[] }).released?.length ?? 0} held job(s) queued again\n`);
}

function actor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

export async function jobsCommand(opts: { config?: string; status?: string; policy?: string; repository?: string; limit: string; json?: boolean }): Promise<void> {
  let query;
  try {
    query = parseJobsQuery({ status: opts.status, policy: opts.policy, repository: opts.repository, limit: opts.limit });
  } catch (err) {
    if (err instanceof AdminInputError) throw new CliError(err.message.replace(/^(\w+):/, '--$1:'), EXIT_USAGE);
    throw err;
  }
  const page = await withBackend(opts.config, (b) => b.store.list(query));
  if (opts.json) {
    printJson(page.cursor ? { jobs: page.jobs, cursor: page.cursor } : { jobs: page.jobs });
    return;
  }
  if (page.jobs.length === 0) {
    process.stdout.write('no jobs\n');
    return;
  }
  await printTable(page.jobs.map(jobRow), JOB_COLUMNS);
  if (page.cursor) process.stderr.write(`(more jobs: raise --limit to see them)\n`);
}

export async function jobCommand(id: string, opts: { config?: string; json?: boolean }): Promise<void> {
  const job = await withBackend(opts.config, (b) => b.store.get(id));
  if (!job) throw new CliError(`no job with id ${JSON.stringify(id)}`);
  if (opts.json) {
    printJson(job);
    return;
  }
  const lines = jobDetails(job);
  const width = Math.max(...lines.map(([label]) => label.length));
  for (const [label, value] of lines) process.stdout.write(`${label.padEnd(width)}  ${value}\n`);
}

function deadRow(d: DeadLetterView): Record<string, string> {
  const job: Job | undefined = d.job;
  return {
    job: d.jobId,
    policy: job?.policy ?? '',
    source: job ? sourceRef(job) : d.key,
    destination: job ? destinationRef(job) : '',
    attempts: job ? String(job.attempts) : '',
    'dead at': d.deadAt ?? '',
    error: (job && errorSummary(job)) || d.reason || '',
  };
}

export async function dlqListCommand(opts: { config?: string; json?: boolean }): Promise<void> {
  const dead = await withBackend(opts.config, (b) => describeDeadLetters(b));
  if (opts.json) {
    printJson({ dead });
    return;
  }
  if (dead.length === 0) {
    process.stdout.write('the dead-letter queue is empty\n');
    return;
  }
  await printTable(dead.map(deadRow), ['job', 'policy', 'source', 'destination', 'attempts', 'dead at', 'error']);
}

export async function dlqReplayCommand(ids: string[], opts: { config?: string; all?: boolean; json?: boolean }): Promise<void> {
  if (opts.all && ids.length > 0) throw new CliError('give either --all or job ids, not both', EXIT_USAGE);
  if (!opts.all && ids.length === 0) throw new CliError('say which jobs to replay: --all, or one or more job ids', EXIT_USAGE);
  const selector: ReplaySelector = opts.all ? { all: true } : { jobIds: ids };
  const replayed = await withBackend(opts.config, (b) => replayDeadJobs({ queue: b.queue, store: b.store }, selector, actor()));
  const missing = ids.filter((id) => !replayed.includes(id));
  if (opts.json) printJson(missing.length > 0 ? { replayed, notDead: missing } : { replayed });
  else {
    process.stdout.write(replayed.length === 0 ? 'nothing to replay\n' : `replayed ${replayed.length} job${replayed.length === 1 ? '' : 's'}:\n${replayed.map((id) => `  ${id}\n`).join('')}`);
  }
  if (missing.length > 0) throw new CliError(`not in the dead-letter queue: ${missing.join(', ')}`);
}
