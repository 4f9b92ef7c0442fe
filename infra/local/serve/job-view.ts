// How a job reads to a human: one table row, or a detail listing. Pure; shared by the
// admin CLI commands (`ferry jobs`, `ferry job`, `ferry dlq list`).
import type { Job } from '../../../shared/jobs/model.js';

export const JOB_COLUMNS = ['id', 'status', 'outcome', 'policy', 'source', 'destination', 'attempts', 'bytes', 'duration', 'updated', 'error'] as const;
export type JobRow = Record<(typeof JOB_COLUMNS)[number], string>;

export function sourceRef(job: Job): string {
  const r = job.source.reference;
  return `${job.source.registry}/${job.source.repository}${r.startsWith('sha256:') ? '@' : ':'}${r}`;
}

export function destinationRef(job: Job): string {
  return `${job.destination.registry}/${job.destination.repository}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

export function errorSummary(job: Job): string {
  const e = job.lastError;
  if (!e) return '';
  const where = [e.registry, e.status !== undefined ? `HTTP ${e.status}` : undefined].filter(Boolean).join(' ');
  return where ? `${e.message} (${where})` : e.message;
}

/** What the last run did: copied / deleted / skipped (why); blank before a run ends. */
export function outcomeText(job: Job): string {
  const o = job.outcome;
  if (!o) return '';
  return o.reason && o.action === 'skipped' ? `skipped (${o.reason})` : o.action;
}

/** Run time of the last run (start to finish), e.g. "1.24 s"; blank while none finished. */
export function durationText(job: Job): string {
  if (!job.startedAt || !job.finishedAt) return '';
  const ms = Date.parse(job.finishedAt) - Date.parse(job.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? seconds(ms) : '';
}

function seconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function jobRow(job: Job): JobRow {
  return {
    id: job.id,
    status: job.status,
    outcome: truncate(outcomeText(job), 40),
    policy: job.policy,
    source: sourceRef(job),
    destination: destinationRef(job),
    attempts: String(job.attempts),
    bytes: job.stats ? bytes(job.stats.bytes) : '',
    duration: durationText(job),
    updated: job.updatedAt,
    error: truncate(errorSummary(job), 80),
  };
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** `label: value` lines for `ferry job ID`. */
export function jobDetails(job: Job): Array<[string, string]> {
  const lines: Array<[string, string]> = [
    ['id', job.id],
    ['status', job.status],
    ['policy', job.policy],
    ['source', sourceRef(job) + (job.source.digest && job.source.digest !== job.source.reference ? ` (event digest ${job.source.digest})` : '')],
    ['destination', destinationRef(job)],
    ['trigger', job.trigger.kind === 'event' ? `event ${job.trigger.eventId} (${job.trigger.action}) at ${job.trigger.at}` : `${job.trigger.kind} at ${job.trigger.at}`],
    ['attempts', String(job.attempts)],
    ['created', job.createdAt],
    ['updated', job.updatedAt],
  ];
  if (job.nextAttemptAt && (job.status === 'failed' || job.status === 'queued')) {
    const inSeconds = Math.max(0, Math.round((Date.parse(job.nextAttemptAt) - Date.now()) / 1000));
    lines.push(['next attempt', `${job.nextAttemptAt} (in ${inSeconds} s)`]);
  }
  if (job.startedAt) lines.push(['started', job.startedAt]);
  if (job.finishedAt) lines.push(['finished', job.finishedAt]);
  if (job.outcome) {
    const o = job.outcome;
    lines.push(['outcome', [o.action, o.digest, o.reason ? `(${o.reason})` : undefined].filter(Boolean).join(' ')]);
  }
  if (job.stats) {
    const s = job.stats;
    lines.push(['stats', `${s.manifests} manifests, blobs ${s.blobs.copied} copied / ${s.blobs.skipped} skipped / ${s.blobs.mounted} mounted, ${bytes(s.bytes)}, ${(s.ms / 1000).toFixed(2)} s`]);
  }
  if (job.lastError) {
    const e = job.lastError;
    lines.push(['last error', e.message]);
    lines.push(['last error context', errorContext(e)]);
  }
  if (job.cancelRequested) lines.push(['cancel requested', `${job.cancelRequested.at} by ${job.cancelRequested.by}`]);
  for (const r of job.replays ?? []) lines.push(['replayed / retried', `${r.at} by ${r.by}`]);
  for (const a of job.history ?? []) {
    const took = a.finishedAt ? ` (${seconds(Date.parse(a.finishedAt) - Date.parse(a.startedAt))})` : '';
    const what = [a.outcome, a.action, a.bytes !== undefined ? bytes(a.bytes) : undefined].filter(Boolean).join(', ');
    lines.push([`attempt ${a.attempt}`, `${a.startedAt} -> ${a.finishedAt ?? '?'}${took}: ${what}`]);
    if (a.error) lines.push([`attempt ${a.attempt} error`, `${a.error.message} [${errorContext(a.error)}]`]);
  }
  return lines;
}

function errorContext(e: NonNullable<Job['lastError']>): string {
  return [e.registry ? `registry ${e.registry}` : undefined, e.status !== undefined ? `HTTP ${e.status}` : undefined, e.code, e.transient ? 'transient' : 'permanent'].filter(Boolean).join(', ');
}
