import type { CopyStats, Job } from '../jobs/model.js';

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
export type ReplicateJob = (job: Job, options: { signal?: AbortSignal }) => Promise<ReplicateOutcome>;

export function emptyStats(): CopyStats {
  return { manifests: 0, blobs: { copied: 0, skipped: 0, mounted: 0 }, bytes: 0, ms: 0 };
}
