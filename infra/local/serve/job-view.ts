// How a job reads to a human: one table row, or a detail listing. Pure; shared by the
// admin CLI commands (`ferry jobs`, `ferry job`, `ferry dlq list`).
import type { Job } from '../../../shared/jobs/model.js';

export const JOB_COLUMNS = ['id', 'status', 'policy', 'source', 'destination', 'attempts', 'updated', 'error'] as const;
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

export function jobRow(job: Job): JobRow {
  return {
    id: job.id,
    status: job.status,
    policy: job.policy,
    source: sourceRef(job),
    destination: destinationRef(job),
    attempts: String(job.attempts),
    updated: job.updatedAt,
    error: truncate(errorSummary(job), 80),
  };
}

function bytes(n: number): string {
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
    lines.push(['error', e.message]);
    const ctx = [e.registry ? `registry ${e.registry}` : undefined, e.status !== undefined ? `HTTP ${e.status}` : undefined, e.code, e.transient ? 'transient' : 'permanent'];
    lines.push(['error detail', ctx.filter(Boolean).join(', ')]);
  }
  for (const r of job.replays ?? []) lines.push(['replayed', `${r.at} by ${r.by}`]);
  return lines;
}
