// How a job takes referrers into account (the policy's referrers, referrerTypes and
// digestTags): after copying an image, its referrers follow (for an index, each child's
// too); a job for a referrer tag (`sha256-<hex>` index, `sha256-<hex>.sig`) syncs the
// referrers of that subject; a job for a manifest with `subject` copies it and records it
// in its subject's index. Referrers ride on their subject's replication: when the subject
// is not at the destination (its tag was filtered out, or its job has not run yet and will
// bring its referrers), such a job is skipped.
import type { PolicyConfig } from '../config/schema.js';
import { parseManifestContent } from '../registry/manifest-content.js';
import type { Manifest } from '../registry/manifests.js';
import { artifactTypeOf, parseReferrerTag, subjectOf } from '../registry/referrers.js';
import type { CopyResult } from './copy.js';
import { findReferrers, indexReferrer, syncReferrers, wantsArtifactType, withReferrerStats, type FoundReferrer, type ReferrerOptions, type Side } from './referrers.js';
import { emptyStats, type ReplicateOutcome } from './types.js';

export interface ReferrerJob {
  source: Side;
  destination: Side;
  policy: Pick<PolicyConfig, 'referrers' | 'referrerTypes' | 'digestTags'>;
  /** Copies one manifest of the job: by digest, or setting `tag`; `override` as the copy engine's. */
  copy: (reference: string, tag: string | undefined, override: boolean) => Promise<CopyResult>;
  signal?: AbortSignal;
}

export function referrerOptions(policy: ReferrerJob['policy']): ReferrerOptions {
  return { referrers: policy.referrers, referrerTypes: policy.referrerTypes, digestTags: policy.digestTags };
}

function skipped(reason: string, digest?: string): ReplicateOutcome {
  return { action: 'skipped', reason, ...(digest ? { digest } : {}), stats: emptyStats() };
}

async function subjectAtDestination(job: ReferrerJob, subject: string): Promise<boolean> {
  return (await job.destination.client.headManifest(job.destination.repository, subject, job.signal))?.digest === subject;
}

function sync(job: ReferrerJob, subjects: string[], prefetched?: ReadonlyMap<string, Promise<FoundReferrer[]>>) {
  return syncReferrers({
    source: job.source, destination: job.destination, subjects, options: referrerOptions(job.policy),
    copy: (digest, tag) => job.copy(digest, tag, true),
    ...(job.signal ? { signal: job.signal } : {}),
    ...(prefetched ? { prefetched } : {}),
  });
}

/**
 * Starts looking for the referrers of the image about to be copied, so the search (several
 * round trips to the source) runs during the copy instead of after it. Only the top-level
 * manifest's: an index's children are searched after the copy, not competing with its blobs.
 */
export function prefetchReferrers(job: ReferrerJob, manifest: Manifest): ReadonlyMap<string, Promise<FoundReferrer[]>> | undefined {
  if (!job.policy.referrers && !job.policy.digestTags) return undefined;
  const search = findReferrers(job.source, manifest.digest, referrerOptions(job.policy), job.signal);
  // Awaited after the copy, or never (the copy failed, or kept another digest): not unhandled.
  search.catch(() => undefined);
  return new Map([[manifest.digest, search]]);
}

/** A job whose reference is a referrer tag the policy follows: its subject's referrers. undefined = not such a job. */
export async function referrerTagJob(job: ReferrerJob, reference: string): Promise<ReplicateOutcome | undefined> {
  const parsed = parseReferrerTag(reference);
  if (!parsed || !(parsed.kind === 'index' ? job.policy.referrers : job.policy.digestTags)) return undefined;
  if (!(await subjectAtDestination(job, parsed.subject))) {
    return skipped(`referrers of ${parsed.subject} not copied: the subject is not at ${job.destination.client.name}/${job.destination.repository} (its policy does not cover it, or its own job, still to run, brings them)`);
  }
  const result = await sync(job, [parsed.subject]);
  const stats = result.stats;
  if (result.copied === 0 && result.indexesWritten === 0) return { action: 'skipped', reason: `referrers of ${parsed.subject} already at the destination`, digest: parsed.subject, stats };
  return { action: 'copied', digest: parsed.subject, stats, ...(result.truncated ? { reason: result.truncated } : {}) };
}

/** A job for a manifest that has a `subject` (when the policy follows referrers). undefined = not such a job. */
export async function subjectReferrerJob(job: ReferrerJob, manifest: Manifest): Promise<ReplicateOutcome | undefined> {
  if (!job.policy.referrers) return undefined;
  const subject = subjectOf(manifest.bytes);
  if (!subject) return undefined;
  const type = artifactTypeOf(manifest.bytes);
  if (!wantsArtifactType(referrerOptions(job.policy), type)) return skipped(`referrer ${manifest.digest} has artifactType ${type ?? '(none)'}, which referrerTypes does not select`, manifest.digest);
  if (!(await subjectAtDestination(job, subject.digest))) {
    return skipped(`referrer ${manifest.digest} not copied: its subject ${subject.digest} is not at ${job.destination.client.name}/${job.destination.repository} (its policy does not cover it, or its own job, still to run, brings it)`, manifest.digest);
  }
  const copied = await job.copy(manifest.digest, undefined, true);
  const indexed = await indexReferrer(job.destination, manifest, job.signal);
  const rest = await sync(job, [manifest.digest]);
  const stats = withReferrerStats(copied.stats, rest);
  if (copied.skipped && !indexed && rest.copied === 0 && rest.indexesWritten === 0) return { action: 'skipped', reason: copied.skipped, digest: manifest.digest, stats };
  return { action: 'copied', digest: manifest.digest, stats };
}

/** After an image or index was copied (or found there): its referrers, and each child's. */
export async function followReferrers(
  job: ReferrerJob, manifest: Manifest, result: CopyResult, prefetched?: ReadonlyMap<string, Promise<FoundReferrer[]>>,
): Promise<ReplicateOutcome> {
  const base: ReplicateOutcome = result.skipped
    ? { action: 'skipped', reason: result.skipped, digest: result.digest, stats: result.stats }
    : { action: 'copied', digest: result.digest, stats: result.stats };
  if (!job.policy.referrers && !job.policy.digestTags) return base;
  // override: false kept the destination's tag on another digest: that image's referrers are not ours to add.
  if (result.skipped?.startsWith('override: false')) return base;
  const subjects = [result.digest];
  const content = parseManifestContent(manifest.bytes, manifest.mediaType, { registry: job.source.client.name, repository: job.source.repository, reference: result.digest });
  if (content.kind === 'index') subjects.push(...content.manifests.map((d) => d.digest));
  const synced = await sync(job, subjects, prefetched);
  const stats = withReferrerStats(result.stats, synced);
  if (synced.copied === 0 && synced.indexesWritten === 0) return { ...base, stats };
  return { action: 'copied', digest: result.digest, stats, ...(synced.truncated ? { reason: synced.truncated } : {}) };
}
