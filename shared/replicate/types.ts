// The copy engine's contract with whoever runs it. It knows nothing of queues or job
// records: a task says what to converge, an outcome says what happened.
import type { UploadSessions } from './upload-sessions.js';

export interface CopyStats {
  manifests: number;
  blobs: { copied: number; skipped: number; mounted: number };
  bytes: number;
  ms: number;
}

/** What one replication converges: the fields of a job record the copy engine reads. */
export interface ReplicationTask {
  id: string;
  /** Name of the policy (its override and deletes settings apply). */
  policy: string;
  source: { registry: string; repository: string; reference: string; digest?: string };
  destination: { registry: string; repository: string };
  /** Why the task exists; a fresh push event waits for the source tag (event-consistency.ts). */
  trigger: { kind: string; at: string; action?: string };
}

export interface ReplicateOutcome {
  action: 'copied' | 'deleted' | 'skipped' | 'none';
  /** Why a job was skipped or did nothing (e.g. "destination already at sha256:...", "override: false"). */
  reason?: string;
  /** The source digest the job converged to, when one was resolved. */
  digest?: string;
  stats: CopyStats;
}

/**
 * Runs one job to convergence: resolve the source now, copy or delete at the destination.
 * Throws RegistryError (or another Error) on failure; the runner classifies it.
 */
export type ReplicateJob<T extends ReplicationTask = ReplicationTask> = (job: T, options: ReplicateRunOptions) => Promise<ReplicateOutcome>;

export interface ReplicateRunOptions {
  /** Shutdown or deadline: stop soon (chunked uploads stop at a chunk boundary first). */
  signal?: AbortSignal;
  /** Open uploads of earlier attempts of this job, and where this attempt records its own. */
  uploads?: UploadSessions;
}

export function emptyStats(): CopyStats {
  return { manifests: 0, blobs: { copied: 0, skipped: 0, mounted: 0 }, bytes: 0, ms: 0 };
}
