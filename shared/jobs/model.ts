// The job: "make destination D's repo:reference match what the source has now".
// Jobs converge; the event that created one is only a hint (docs/architecture.md, "Jobs").
import type { CopyStats } from '../replicate/types.js';
import type { UploadSession } from '../replicate/upload-sessions.js';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'skipped' | 'failed' | 'dead' | 'paused' | 'cancelled';

export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'skipped', 'failed', 'dead', 'paused', 'cancelled'];

/**
 * failed means "will retry"; dead means "attempts exhausted, in the DLQ"; paused means "its
 * policy is paused: released (queued again) on resume"; cancelled means "an admin stopped it"
 * (retry queues it again).
 */
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'skipped', 'dead', 'cancelled'];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export type Trigger =
  | { kind: 'event'; eventId: string; at: string; action: 'push' | 'delete' }
  | { kind: 'reconcile'; at: string }
  | { kind: 'manual'; at: string; by?: string }
  | { kind: 'replay'; at: string; by: string };

export interface JobSource {
  registry: string;
  repository: string;
  /** Tag or digest, as the event named it. */
  reference: string;
  /** Digest the event reported, if any (informational: the worker resolves again). */
  digest?: string;
}

export interface JobDestination {
  registry: string;
  repository: string;
}

export interface JobError {
  message: string;
  /** HTTP status of the failing registry call, when there was one. */
  status?: number;
  registry?: string;
  /** OCI error code (MANIFEST_UNKNOWN, ...) or a ferry code (DIGEST_MISMATCH, ...). */
  code?: string;
  transient: boolean;
}

export interface Job {
  id: string;
  /** policy|destRegistry|destRepository|reference: the unit of convergence and dedupe. */
  key: string;
  policy: string;
  source: JobSource;
  destination: JobDestination;
  trigger: Trigger;
  status: JobStatus;
  attempts: number;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** What the run did: copied, deleted, or why it was skipped. */
  outcome?: { action: 'copied' | 'deleted' | 'skipped' | 'none'; reason?: string; digest?: string };
  lastError?: JobError;
  /** When the job's message becomes receivable again: after a failed attempt's backoff, or a deferral. */
  nextAttemptAt?: string;
  stats?: CopyStats;
  /** Replays and retries of this job, newest last. */
  replays?: Array<{ at: string; by: string }>;
  /** Every run of this job, oldest first (at most MAX_ATTEMPT_HISTORY, newest kept). */
  history?: JobAttempt[];
  /** An admin asked to cancel this running job: the run stops at its next blob boundary. */
  cancelRequested?: { at: string; by: string };
  /** Epoch seconds after which a terminal record may be removed (TTL). */
  expiresAt?: number;
  /** Chunked uploads an interrupted attempt left open: the next attempt resumes them. */
  uploads?: UploadSession[];
}

/** One run of a job: when it ran, how it ended, and what it moved. */
export interface JobAttempt {
  attempt: number;
  startedAt: string;
  finishedAt?: string;
  outcome: 'succeeded' | 'skipped' | 'failed' | 'dead' | 'cancelled' | 'interrupted';
  /** copied / deleted / skipped (with the reason), for runs that succeeded. */
  action?: string;
  error?: JobError;
  /** Blob bytes uploaded by this run. */
  bytes?: number;
}

export const MAX_ATTEMPT_HISTORY = 50;

/** The history with one more attempt, oldest dropped past MAX_ATTEMPT_HISTORY. */
export function withAttempt(history: readonly JobAttempt[] | undefined, attempt: JobAttempt): JobAttempt[] {
  return [...(history ?? []), attempt].slice(-MAX_ATTEMPT_HISTORY);
}

/** What travels on the queue: small, so a batch of ten fits SQS limits easily. */
export interface JobMessage {
  jobId: string;
  key: string;
}

export function jobKey(policy: string, destination: JobDestination, reference: string): string {
  return `${policy}|${destination.registry}|${destination.repository}|${reference}`;
}

export const DEFAULT_TTL_SECONDS = 30 * 24 * 3600;
