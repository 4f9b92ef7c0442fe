// Referrers follow their subject: signatures, attestations and SBOMs that refer to a copied
// image are copied with it, recursively (a signature on an SBOM), within a depth and count
// cap. Found at the source through the referrers API, else the referrers tag schema's index
// (tag `sha256-<hex>`), plus cosign's legacy tags (`sha256-<hex>.sig|.att|.sbom`, when
// digestTags is on). At the destination each referrer is pushed by digest (a registry with
// the referrers API indexes its `subject` itself) and, when the destination has no
// referrers API, the subject's `sha256-<hex>` index is read, merged and written back, then
// read again until it holds every entry this job added: concurrent jobs adding different
// referrers to one subject converge. Registries offer no conditional manifest PUT, so a
// write that lands between another job's write and its check can still drop an entry;
// `ferry verify` reports such an entry and reconcile puts it back.
import type { GlobSet } from '../config/filters.js';
import { globSet } from '../config/filters.js';
import type { RegistryClient } from '../registry/client.js';
import { MediaTypes, type Descriptor } from '../registry/media-types.js';
import {
  artifactTypeOf, COSIGN_SUFFIXES, cosignTag, emptyReferrersIndex, indexDescriptors, referrersTag, subjectOf,
} from '../registry/referrers.js';
import type { Manifest } from '../registry/manifests.js';
import { sleep } from '../retry/sleep.js';
import { emptyStats, type CopyStats } from './types.js';

/** How deep referrers of referrers are followed (image <- SBOM <- signature is depth 2). */
export const MAX_REFERRER_DEPTH = 4;
/** Most referrer manifests one job copies (a subject with thousands of attestations is cut here). */
export const MAX_REFERRERS = 256;

export interface ReferrerOptions {
  /** OCI 1.1 referrers (API and the `sha256-<hex>` index tag). */
  referrers: boolean;
  /** Globs (or regex:) over artifactType; undefined = every type. */
  referrerTypes?: readonly string[] | undefined;
  /** Cosign's `sha256-<hex>.sig|.att|.sbom` tags. */
  digestTags: boolean;
}

export interface Side {
  client: RegistryClient;
  repository: string;
}

/** Copies one manifest (with its blobs) by digest, setting `tag` when given; skips what exists. */
export type CopyManifest = (digest: string, tag: string | undefined) => Promise<{ stats: CopyStats; skipped?: string }>;

export interface ReferrerSync {
  /** Referrer manifests and cosign tags copied (not already there). */
  copied: number;
  /** Fallback index tags written at the destination. */
  indexesWritten: number;
  stats: CopyStats;
  /** Set when the caps cut the walk. */
  truncated?: string;
}

/** One referrer found at the source. */
export interface FoundReferrer {
  subject: string;
  descriptor: Descriptor;
  /** Cosign's tag for it; undefined for OCI referrers (found by `subject`). */
  tag?: string;
}

function typeFilter(options: ReferrerOptions): GlobSet | undefined {
  return options.referrerTypes && options.referrerTypes.length > 0 ? globSet(options.referrerTypes, 'repository') : undefined;
}

/** Whether a referrer of this artifact type is replicated (a referrer without a type only when no filter is set). */
export function wantsArtifactType(options: ReferrerOptions, artifactType: string | undefined): boolean {
  const filter = typeFilter(options);
  if (!filter) return true;
  return artifactType !== undefined && filter.test(artifactType);
}

/**
 * The OCI referrers of `subject` at a registry: the API's answer, else the fallback tag's index
 * (none: []). Both are asked at once: where the API is missing (Distribution 2.8 and many
 * more), that is one round trip per image instead of two; where it exists, the tag's answer
 * is dropped, failure included.
 */
export async function ociReferrers(
  side: Side, subject: string, signal?: AbortSignal, knownTags?: ReadonlySet<string>,
): Promise<{ api: boolean; manifests: Descriptor[] }> {
  // A tag missing from a listing just read is not asked for (see TAG_LISTING_MAX_AGE_MS).
  const fallback = (knownTags && !knownTags.has(referrersTag(subject)) ? Promise.resolve(undefined) : side.client.getManifest(side.repository, referrersTag(subject), signal)).then(
    (index) => ({ index }),
    (error: unknown) => ({ error }),
  );
  const api = await side.client.referrers(side.repository, subject, signal ? { signal } : {});
  if (api) return { api: true, manifests: api };
  const answer = await fallback;
  if ('error' in answer) throw answer.error;
  if (!answer.index) return { api: false, manifests: [] };
  return { api: false, manifests: indexDescriptors(answer.index.bytes, () => new Error(`${side.client.name}/${side.repository}:${referrersTag(subject)} is not an image index`)) };
}

/**
 * How old a complete tag listing of the source repository (reconcile reads one before it
 * enqueues the repository's jobs) may be for its absence of a referrer tag (`sha256-<hex>`,
 * cosign's `.sig`/`.att`/`.sbom`) to stand for the registry's answer: 4 of a job's 5 referrer
 * requests (bench/fanin.ts). A tag pushed after the listing arrives by its own event (webhook)
 * or the next reconcile, as any tag pushed after a listing does.
 */
export const TAG_LISTING_MAX_AGE_MS = 60_000;

/** Referrers of one subject at the source that the options select (OCI and cosign's tags asked at once). */
export async function findReferrers(source: Side, subject: string, options: ReferrerOptions, signal?: AbortSignal): Promise<FoundReferrer[]> {
  const knownTags = source.client.recentTags(source.repository, TAG_LISTING_MAX_AGE_MS);
  const oci = async (): Promise<FoundReferrer[]> => {
    if (!options.referrers) return [];
    const { manifests } = await ociReferrers(source, subject, signal, knownTags);
    return manifests.filter((d) => wantsArtifactType(options, d.artifactType)).map((descriptor) => ({ subject, descriptor }));
  };
  const cosign = async (): Promise<FoundReferrer[]> => {
    if (!options.digestTags) return [];
    const heads = await Promise.all(COSIGN_SUFFIXES.map(async (suffix) => {
      const tag = cosignTag(subject, suffix);
      if (knownTags && !knownTags.has(tag)) return undefined;
      const head = await source.client.headManifest(source.repository, tag, signal);
      return head ? { subject, tag, descriptor: { digest: head.digest, mediaType: head.mediaType ?? MediaTypes.ociManifest, size: head.size ?? 0 } } : undefined;
    }));
    return heads.filter((h) => h !== undefined);
  };
  const [fromOci, fromCosign] = await Promise.all([oci(), cosign()]);
  return [...fromOci, ...fromCosign];
}

/**
 * Copies the referrers of `subjects` (and theirs, to MAX_REFERRER_DEPTH) from source to
 * destination, and keeps the destination's fallback index of each subject complete.
 */
export async function syncReferrers(opts: {
  source: Side; destination: Side; subjects: readonly string[]; options: ReferrerOptions; copy: CopyManifest; signal?: AbortSignal;
  /** Searches already started (by subject digest), e.g. while the subject was being copied. */
  prefetched?: ReadonlyMap<string, Promise<FoundReferrer[]>>;
}): Promise<ReferrerSync> {
  const { source, destination, options, copy, signal } = opts;
  const result: ReferrerSync = { copied: 0, indexesWritten: 0, stats: emptyStats() };
  if (!options.referrers && !options.digestTags) return result;
  const visited = new Set<string>(opts.subjects);
  let level = [...opts.subjects];
  let destinationHasApi: boolean | undefined;
  for (let depth = 1; level.length > 0; depth++) {
    const next: string[] = [];
    for (const subject of level) {
      signal?.throwIfAborted();
      const found = await (opts.prefetched?.get(subject) ?? findReferrers(source, subject, options, signal));
      const indexed: Descriptor[] = [];
      for (const r of found) {
        if (visited.size - opts.subjects.length >= MAX_REFERRERS) {
          result.truncated = `stopped after ${MAX_REFERRERS} referrers`;
          break;
        }
        const copied = await copy(r.descriptor.digest, r.tag);
        addStats(result.stats, copied.stats);
        if (!copied.skipped) result.copied++;
        if (!r.tag) indexed.push(r.descriptor);
        if (!visited.has(r.descriptor.digest)) {
          visited.add(r.descriptor.digest);
          if (depth < MAX_REFERRER_DEPTH) next.push(r.descriptor.digest);
          else result.truncated = `referrers deeper than ${MAX_REFERRER_DEPTH} levels were not followed`;
        }
      }
      if (indexed.length > 0) {
        destinationHasApi ??= (await destination.client.referrers(destination.repository, subject, signal ? { signal } : {})) !== undefined;
        if (!destinationHasApi && (await mergeFallbackIndex(destination, subject, indexed, signal))) result.indexesWritten++;
      }
    }
    level = next;
  }
  return result;
}

/** A referrer descriptor made from its manifest (for the fallback index of its subject). */
export function referrerDescriptor(manifest: Manifest): Descriptor {
  const d: Descriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
  const artifactType = artifactTypeOf(manifest.bytes);
  if (artifactType) d.artifactType = artifactType;
  try {
    const annotations = (JSON.parse(manifest.bytes.toString('utf8')) as { annotations?: unknown }).annotations;
    if (annotations && typeof annotations === 'object' && !Array.isArray(annotations)) d.annotations = annotations as Record<string, string>;
  } catch {
    // The copy engine already parsed these bytes; a failure here only drops annotations.
  }
  return d;
}

/**
 * A referrer pushed on its own (a webhook for a manifest with `subject`): after it was
 * copied by digest, the destination's index of its subject learns it (no referrers API).
 */
export async function indexReferrer(destination: Side, manifest: Manifest, signal?: AbortSignal): Promise<boolean> {
  const subject = subjectOf(manifest.bytes);
  if (!subject) return false;
  const hasApi = (await destination.client.referrers(destination.repository, subject.digest, signal ? { signal } : {})) !== undefined;
  if (hasApi) return false;
  return mergeFallbackIndex(destination, subject.digest, [referrerDescriptor(manifest)], signal);
}

const MERGE_ATTEMPTS = 6;

/**
 * Read-modify-write of the destination's `sha256-<hex>` index until it holds `entries`
 * (by digest). Returns whether it wrote. Each write is checked by reading again after a
 * short random pause, so a concurrent writer that read before this write shows up.
 */
export async function mergeFallbackIndex(destination: Side, subject: string, entries: readonly Descriptor[], signal?: AbortSignal): Promise<boolean> {
  const tag = referrersTag(subject);
  let wrote = false;
  for (let attempt = 1; ; attempt++) {
    const current = await destination.client.getManifest(destination.repository, tag, signal);
    const manifests = current ? indexDescriptors(current.bytes, () => new Error(`${destination.client.name}/${destination.repository}:${tag} is not an image index`)) : [];
    const have = new Set(manifests.map((d) => d.digest));
    const missing = entries.filter((e) => !have.has(e.digest));
    if (missing.length === 0) return wrote;
    if (attempt > MERGE_ATTEMPTS) {
      throw new Error(`${destination.client.name}/${destination.repository}:${tag}: other writers kept replacing the referrers index; ${missing.length} entries still missing after ${MERGE_ATTEMPTS} writes`);
    }
    const index = current ? { ...(JSON.parse(current.bytes.toString('utf8')) as object), manifests: [...manifests, ...missing] } : { ...emptyReferrersIndex(), manifests: missing };
    const bytes = Buffer.from(JSON.stringify(index));
    await destination.client.putManifest(destination.repository, tag, { bytes, mediaType: MediaTypes.ociIndex }, signal);
    wrote = true;
    await sleep(50 + Math.floor(Math.random() * 150), signal);
  }
}

function addStats(into: CopyStats, from: CopyStats): void {
  into.manifests += from.manifests;
  into.bytes += from.bytes;
  into.blobs.copied += from.blobs.copied;
  into.blobs.skipped += from.blobs.skipped;
  into.blobs.mounted += from.blobs.mounted;
}

/** Adds a referrer sync's counts to a copy's stats. */
export function withReferrerStats(stats: CopyStats, sync: ReferrerSync): CopyStats {
  const out: CopyStats = { ...stats, blobs: { ...stats.blobs } };
  addStats(out, sync.stats);
  return out;
}

/**
 * What of the source's referrers of `subjects` (recursively, within the caps) the
 * destination lacks: a manifest by digest, a cosign tag on the same digest, or (destination
 * without referrers API) an entry of the subject's fallback index. One line each, for verify.
 */
export async function missingReferrers(source: Side, destination: Side, subjects: readonly string[], options: ReferrerOptions, signal?: AbortSignal): Promise<string[]> {
  if (!options.referrers && !options.digestTags) return [];
  const missing: string[] = [];
  const visited = new Set<string>(subjects);
  let level = [...subjects];
  let destinationHasApi: boolean | undefined;
  for (let depth = 1; level.length > 0 && depth <= MAX_REFERRER_DEPTH; depth++) {
    const next: string[] = [];
    for (const subject of level) {
      const found = await findReferrers(source, subject, options, signal);
      const oci = found.filter((r) => !r.tag);
      let indexed: Set<string> | undefined;
      if (oci.length > 0) {
        destinationHasApi ??= (await destination.client.referrers(destination.repository, subject, signal ? { signal } : {})) !== undefined;
        if (!destinationHasApi) indexed = new Set((await ociReferrers(destination, subject, signal)).manifests.map((d) => d.digest));
      }
      for (const r of found) {
        const head = await destination.client.headManifest(destination.repository, r.tag ?? r.descriptor.digest, signal);
        if (head?.digest !== r.descriptor.digest) missing.push(r.tag ? `tag ${r.tag} (${r.descriptor.digest})` : `referrer ${r.descriptor.digest} of ${subject}`);
        else if (!r.tag && indexed && !indexed.has(r.descriptor.digest)) missing.push(`referrer ${r.descriptor.digest} in the index tag ${referrersTag(subject)}`);
        if (!visited.has(r.descriptor.digest) && visited.size - subjects.length < MAX_REFERRERS) {
          visited.add(r.descriptor.digest);
          next.push(r.descriptor.digest);
        }
      }
    }
    level = next;
  }
  return missing;
}
