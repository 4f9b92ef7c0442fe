// Runs one job to convergence: resolve the source reference now, then copy it, or take
// the delete path when it is gone and the policy propagates deletes.
import type { FerryConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { isTag, referenceProblem, repositoryProblem } from '../oci/grammar.js';
import type { RegistryClient } from '../registry/client.js';
import type { Manifest, ManifestHead } from '../registry/manifests.js';
import { copyImage, SourceManifestNotFoundError, type CopyProgress, type CopyResult } from './copy.js';
import { digestPushSelected, selectedManifest } from './platforms.js';
import { followReferrers, prefetchReferrers, referrerTagJob, subjectReferrerJob } from './referrer-jobs.js';
import { deleteImage } from './delete.js';
import { PermanentJobError } from './errors.js';
import type { BlobFlights } from './blob-flights.js';
import { emptyStats, type ReplicateJob, type ReplicateOutcome, type ReplicationTask } from './types.js';

export interface ReplicatorOptions {
  config: FerryConfig;
  clients: Map<string, RegistryClient>;
  logger?: Logger;
  /** Shared single-flight of blob uploads (default: this process's own). */
  blobs?: BlobFlights;
  onProgress?: (job: ReplicationTask, progress: CopyProgress) => void;
}

/** A configuration or job problem no retry can fix (the runner dead-letters it at once). */
export class ReplicationSetupError extends PermanentJobError {}

export function createReplicator(options: ReplicatorOptions): ReplicateJob {
  const { config, clients, logger } = options;
  return async (job, { signal, uploads }) => {
    const policy = config.policies.find((p) => p.name === job.policy);
    if (!policy) throw new ReplicationSetupError(`job ${job.id}: policy ${JSON.stringify(job.policy)} is not configured`);
    const source = client(clients, job.source.registry, job.id);
    const destination = client(clients, job.destination.registry, job.id);
    const problem = repositoryProblem(job.source.repository) ?? repositoryProblem(job.destination.repository) ?? referenceProblem(job.source.reference);
    if (problem) throw new ReplicationSetupError(`job ${job.id}: ${problem}`);

    const started = Date.now();
    const src = { client: source, repository: job.source.repository };
    const dst = { client: destination, repository: job.destination.repository };
    /** Copies one manifest of this job (a referrer by digest, a cosign tag) with the job's settings. */
    const copy = (reference: string, tag: string | undefined, override: boolean, resolved?: Manifest, tagHead?: Promise<ManifestHead | undefined>): Promise<CopyResult> => copyImage({
      source: { ...src, reference, ...(resolved ? { resolved } : {}) },
      destination: { ...dst, ...(tag !== undefined ? { tag } : {}), ...(tag !== undefined && tagHead ? { tagHead } : {}) },
      blobConcurrency: config.worker.blobConcurrency,
      limits: { maxIndexDepth: config.worker.maxIndexDepth, maxManifests: config.worker.maxManifests },
      override,
      ...(signal ? { signal } : {}),
      ...(uploads ? { uploads } : {}),
      ...(options.blobs ? { blobs: options.blobs } : {}),
      ...(options.onProgress ? { onProgress: (p: CopyProgress) => options.onProgress?.(job, p) } : {}),
    });
    const referrerJob = { source: src, destination: dst, policy, copy, ...(signal ? { signal } : {}) };

    // A `sha256-<hex>` index or cosign tag: the referrers of its subject, not a tag of its own.
    const byTag = await referrerTagJob(referrerJob, job.source.reference);
    if (byTag) return byTag;

    // A tag job asks the destination for its tag while the source's manifest is fetched:
    // one round trip instead of two before the first blob moves.
    const tagHead = isTag(job.source.reference) ? destination.headManifest(job.destination.repository, job.source.reference, signal) : undefined;
    tagHead?.catch(() => undefined);
    const manifest = await source.getManifest(job.source.repository, job.source.reference, signal);
    if (manifest) {
      // A manifest with `subject` pushed on its own (a signature minutes after its image).
      const bySubject = await subjectReferrerJob(referrerJob, manifest);
      if (bySubject) return bySubject;
      // An index child's own digest-only event: only the selected platforms follow.
      if (policy.platforms && !isTag(job.source.reference)) {
        const pick = await digestPushSelected(src, manifest, policy.platforms, signal);
        if (!pick.selected) return { action: 'skipped', reason: `platform ${pick.platform ?? '?'} is not among the policy's platforms (${policy.platforms.join(', ')})`, digest: manifest.digest, stats: emptyStats() };
      }
      // policy.platforms: a lone child's manifest, or a new index of the selected children.
      const selected = await selectedManifest(src, manifest, policy.platforms, job.source.reference, signal);
      const from = selected === manifest ? job.source.reference : selected.digest;
      const referrers = prefetchReferrers(referrerJob, selected);
      const result = await copy(from, isTag(job.source.reference) ? job.source.reference : undefined, policy.override, selected, tagHead);
      logger?.debug({ jobId: job.id, digest: result.digest, stats: result.stats, skipped: result.skipped }, 'copy finished');
      return followReferrers(referrerJob, selected, result, referrers);
    }

    if (!policy.deletes) {
      // A push-only policy cannot converge on a reference the source no longer has.
      throw new SourceManifestNotFoundError(job.source.registry, job.source.repository, job.source.reference);
    }
    const deleted = await deleteImage({
      source: { client: source, repository: job.source.repository, reference: job.source.reference },
      destination: { client: destination, repository: job.destination.repository },
      ...(signal ? { signal } : {}),
    });
    logger?.debug({ jobId: job.id, ...deleted }, 'delete path finished');
    const stats = emptyStats();
    stats.ms = Date.now() - started;
    const outcome: ReplicateOutcome = { action: deleted.action, reason: deleted.reason, stats };
    if (deleted.digest) outcome.digest = deleted.digest;
    return outcome;
  };
}

function client(clients: Map<string, RegistryClient>, name: string, jobId: string): RegistryClient {
  const found = clients.get(name);
  if (!found) throw new ReplicationSetupError(`job ${jobId}: registry ${JSON.stringify(name)} is not configured`);
  return found;
}

