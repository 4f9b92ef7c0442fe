import type { CopyStats, Job } from '../jobs/model.js';
import type { UploadSessions } from './upload-sessions.js';

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
export type ReplicateJob = (job: Job, options: ReplicateRunOptions) => Promise<ReplicateOutcome>;

export interface ReplicateRunOptions {
  /** Shutdown or deadline: stop soon (chunked uploads stop at a chunk boundary first). */
  signal?: AbortSignal;
  /** Open uploads of earlier attempts of this job, and where this attempt records its own. */
  uploads?: UploadSessions;
}

export function emptyStats(): CopyStats {
  return { manifests: 0, blobs: { copied: 0, skipped: 0, mounted: 0 }, bytes: 0, ms: 0 };
}
