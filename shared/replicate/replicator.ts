// Runs one job to convergence: resolve the source reference now, then copy it, or take
// the delete path when it is gone and the policy propagates deletes.
import type { FerryConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { isTag, referenceProblem, repositoryProblem } from '../oci/grammar.js';
import type { RegistryClient } from '../registry/client.js';
import { copyImage, SourceManifestNotFoundError, type CopyProgress } from './copy.js';
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
    const manifest = await source.getManifest(job.source.repository, job.source.reference, signal);
    if (manifest) {
      const result = await copyImage({
        source: { client: source, repository: job.source.repository, reference: job.source.reference, resolved: manifest },
        destination: { client: destination, repository: job.destination.repository, ...(isTag(job.source.reference) ? { tag: job.source.reference } : {}) },
        blobConcurrency: config.worker.blobConcurrency,
        limits: { maxIndexDepth: config.worker.maxIndexDepth, maxManifests: config.worker.maxManifests },
        override: policy.override,
        ...(signal ? { signal } : {}),
        ...(uploads ? { uploads } : {}),
        ...(options.blobs ? { blobs: options.blobs } : {}),
        ...(options.onProgress ? { onProgress: (p: CopyProgress) => options.onProgress?.(job, p) } : {}),
      });
      logger?.debug({ jobId: job.id, digest: result.digest, stats: result.stats, skipped: result.skipped }, 'copy finished');
      return result.skipped
        ? { action: 'skipped', reason: result.skipped, digest: result.digest, stats: result.stats }
        : { action: 'copied', digest: result.digest, stats: result.stats };
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

