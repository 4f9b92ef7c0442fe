// The admin CLI (`ferry jobs`, `ferry job`, `ferry dlq list|replay`). It acts on the
// configured backend directly, so it works while `ferry serve` runs (SQLite WAL allows a
// second connection) and against a deployed AWS stack alike.
import { userInfo } from 'node:os';
import { openBackend } from '../../../shared/adapters/open.js';
import type { Job } from '../../../shared/jobs/model.js';
import type { Backend, ReplaySelector } from '../../../shared/jobs/ports.js';
import { replayDeadJobs } from '../../../shared/jobs/replay.js';
import { loadCliConfig } from '../cli/config.js';
import { CliError, EXIT_USAGE, printJson, printTable } from '../cli/output.js';
import { AdminInputError, parseJobsQuery } from './admin-requests.js';
import { describeDeadLetters, type DeadLetterView } from '../../../shared/jobs/dead-letters.js';
import { JOB_COLUMNS, destinationRef, errorSummary, jobDetails, jobRow, sourceRef } from './job-view.js';

async function withBackend<T>(configPath: string | undefined, use: (backend: Backend) => Promise<T>): Promise<T> {
  const config = await loadCliConfig(configPath);
  const backend = await openBackend(config);
  try {
    return await use(backend);
  } finally {
    await backend.close();
  }
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
