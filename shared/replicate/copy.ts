// Copies one image (or index, recursively) from a source repository to a destination
// repository, as docs/architecture.md ("The copy engine") describes: resolve at the source, skip what the
// destination already has, blobs in parallel (mount before upload), manifests bottom-up
// with their exact bytes, the tag last.
import { setMaxListeners } from 'node:events';
import type { Readable } from 'node:stream';
import pLimit from 'p-limit';
import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import { parseManifestContent } from '../registry/manifest-content.js';
import type { Manifest, ManifestHead } from '../registry/manifests.js';
import { isNonDistributable, type Descriptor } from '../registry/media-types.js';
import { backoffDelayMs } from '../retry/backoff.js';
import { sleep } from '../retry/sleep.js';
import type { UploadCheckpoint } from '../registry/blobs.js';
import { PermanentJobError } from './errors.js';
import { emptyStats, type CopyStats } from './types.js';
import { processBlobFlights, type BlobFlights } from './blob-flights.js';
import { MemoryUploadSessions, type UploadSessionKey, type UploadSessions } from './upload-sessions.js';

export interface CopySource {
  client: RegistryClient;
  repository: string;
  /** Tag or digest at the source. */
  reference: string;
  /** The manifest when the caller already resolved it (saves a second GET). */
  resolved?: Manifest;
}

export interface CopyDestination {
  client: RegistryClient;
  repository: string;
  /** Tag to set at the destination; without one the image is pushed by digest only. */
  tag?: string;
  /** A HEAD of `tag` at the destination the caller already started (saves a round trip). */
  tagHead?: Promise<ManifestHead | undefined>;
}

export interface CopyProgress {
  bytes: number;
  blobs: { done: number; total: number };
  manifests: number;
}

export interface CopyOptions {
  source: CopySource;
  destination: CopyDestination;
  /** Blobs transferred at once (worker.blobConcurrency). */
  blobConcurrency: number;
  /** false: never move a destination tag that points at another digest. */
  override: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: CopyProgress) => void;
  /**
   * Which blobs each destination registry holds or is receiving (single-flight of uploads,
   * mounts instead of second uploads); default: this process's own index.
   */
  blobs?: BlobFlights;
  /** Attempts per blob for transient failures (default 3). */
  blobAttempts?: number;
  /**
   * Open chunked uploads of earlier attempts, and where this copy records its own so the
   * next attempt resumes them. Default: kept in memory for this copy only.
   */
  uploads?: UploadSessions;
  /**
   * When `signal` fires, chunked uploads finish the chunk in flight and stop (their session
   * recorded); after this many ms they are cut regardless. Default 3000: short enough to
   * leave the Lambda worker's smallest abort margin (5 s) time to release the job.
   */
  stopGraceMs?: number;
  /** Index depth and manifest count caps (default DEFAULT_MANIFEST_LIMITS). */
  limits?: ManifestLimits;
}

export interface CopyResult {
  digest: string;
  mediaType: string;
  stats: CopyStats;
  /** Why nothing was copied (destination already at / already has the digest, override: false). */
  skipped?: string;
}

/** The source has no manifest for the reference: the caller decides (delete path, or fail). */
export class SourceManifestNotFoundError extends RegistryError {
  constructor(registry: string, repository: string, reference: string) {
    super(`manifest unknown at source: ${registry}/${repository}${reference.includes(':') ? '@' : ':'}${reference}`, {
      registry, repository, reference, status: 404, code: 'MANIFEST_UNKNOWN',
    });
  }
}

type BlobOutcome = 'copied' | 'skipped' | 'mounted';

export async function copyImage(options: CopyOptions): Promise<CopyResult> {
  const started = Date.now();
  const { source, destination, signal } = options;
  const manifest = source.resolved ?? (await source.client.getManifest(source.repository, source.reference, signal));
  if (!manifest) throw new SourceManifestNotFoundError(source.client.name, source.repository, source.reference);

  const stats = emptyStats();
  const finish = (skipped?: string): CopyResult => {
    stats.ms = Date.now() - started;
    return { digest: manifest.digest, mediaType: manifest.mediaType, stats, ...(skipped ? { skipped } : {}) };
  };

  const target = destination.tag ?? manifest.digest;
  const existing = await (destination.tag !== undefined && destination.tagHead ? destination.tagHead : destination.client.headManifest(destination.repository, target, signal));
  if (existing?.digest === manifest.digest) {
    // Digest references end here too: e.g. the deferred job of an index child, which the
    // index's job already copied (policy/plan.ts, the multi-arch rule).
    const where = `${destination.client.name}/${destination.repository}`;
    return finish(destination.tag ? `destination ${where}:${destination.tag} already at ${manifest.digest}` : `destination ${where} already has ${manifest.digest}`);
  }
  if (existing && destination.tag && !options.override) {
    return finish(`override: false and destination tag ${destination.repository}:${destination.tag} points at ${existing.digest} (source has ${manifest.digest})`);
  }

  const run = new CopyRun(options, stats);
  await run.copyManifestTree(manifest, source.reference);
  signal?.throwIfAborted();
  // Bottom-up order guarantees children exist; the top-level PUT sets the tag last.
  await destination.client.putManifest(destination.repository, target, manifest, signal);
  stats.manifests += 1;
  run.report();
  return finish();
}

/** What a copy may walk below its root manifest (worker.maxIndexDepth, worker.maxManifests). */
export interface ManifestLimits {
  /** Levels of index nesting below the root (an image under a root index is level 1). */
  maxIndexDepth: number;
  /** Distinct manifests in one copy, the root included. */
  maxManifests: number;
}

/** Generous for real images: multi-platform indexes with attestations, nested a level or two. */
export const DEFAULT_MANIFEST_LIMITS: ManifestLimits = { maxIndexDepth: 4, maxManifests: 1000 };

/** An index beyond the limits: no retry will shrink it, so the job is dead-lettered at once. */
export class ManifestLimitError extends PermanentJobError {}

type TreeNode = ImageNode | IndexNode;
interface ImageNode { kind: 'image'; manifest: Manifest; descriptors: Descriptor[] }
interface IndexNode { kind: 'index'; manifest: Manifest; depth: number; listed: string[]; children: TreeNode[] }

/** State of one copy: manifest and blob dedupe across index children, the shared concurrency limit, stats. */
class CopyRun {
  /** Every child manifest of this copy by digest (undefined: the destination has it). */
  private readonly resolving = new Map<string, Promise<TreeNode | undefined>>();
  private readonly pushed = new Map<string, Promise<void>>();
  private readonly limits: ManifestLimits;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly blobs = new Map<string, Promise<BlobOutcome>>();
  private readonly flights: BlobFlights;
  private readonly registryKey: string;
  private blobsTotal = 0;
  private blobsDone = 0;
  /** Aborted by the caller's signal or by the first failure, so sibling transfers stop early. */
  private readonly controller = new AbortController();
  private readonly signal: AbortSignal;
  /**
   * What chunked uploads are cut by: a sibling's failure at once, the caller's signal only
   * after the grace period (until then they stop at their next chunk boundary).
   */
  private readonly uploadSignal: AbortSignal;
  private readonly sessions: UploadSessions;

  constructor(private readonly options: CopyOptions, private readonly stats: CopyStats) {
    this.signal = options.signal ? AbortSignal.any([options.signal, this.controller.signal]) : this.controller.signal;
    this.uploadSignal = this.controller.signal;
    if (options.signal) {
      const hard = new AbortController();
      const grace = options.stopGraceMs ?? 3000;
      const cut = () => setTimeout(() => hard.abort(options.signal!.reason), grace).unref();
      if (options.signal.aborted) cut();
      else options.signal.addEventListener('abort', cut, { once: true });
      this.uploadSignal = AbortSignal.any([this.controller.signal, hard.signal]);
    }
    // Every request of every blob listens on these; that is not a leak.
    setMaxListeners(0, this.signal, this.uploadSignal);
    this.limit = pLimit(Math.max(1, options.blobConcurrency));
    this.flights = options.blobs ?? processBlobFlights;
    this.registryKey = options.destination.client.url;
    this.sessions = options.uploads ?? new MemoryUploadSessions();
    this.limits = options.limits ?? DEFAULT_MANIFEST_LIMITS;
  }

  private lastByteReport = 0;

  /** Byte progress inside large blobs, at most a few times a second. */
  private reportBytes(): void {
    const now = Date.now();
    if (now - this.lastByteReport < 200) return;
    this.lastByteReport = now;
    this.report();
  }

  report(): void {
    this.options.onProgress?.({ bytes: this.stats.bytes, blobs: { done: this.blobsDone, total: this.blobsTotal }, manifests: this.stats.manifests });
  }

  /** Copies what a manifest refers to; children of an index are pushed here, the root by the caller. */
  async copyManifestTree(manifest: Manifest, reference: string): Promise<void> {
    // The whole tree is read (and held to the limits) before anything is written: a hostile
    // index then costs GETs up to the cap, never a PUT.
    const root = this.resolveNode(manifest, reference, 0);
    if (root.kind === 'index') await this.resolveChildren(root);
    await this.copyNode(root);
  }

  /** Parses a fetched manifest; the root (depth 0) and every new digest count towards maxManifests. */
  private resolveNode(manifest: Manifest, reference: string, depth: number): TreeNode {
    const { source } = this.options;
    const where = { registry: source.client.name, repository: source.repository, reference };
    const content = parseManifestContent(manifest.bytes, manifest.mediaType, where);
    if (content.kind === 'image') return { kind: 'image', manifest, descriptors: [content.config, ...content.layers] };
    return { kind: 'index', manifest, depth, listed: content.manifests.map((c) => c.digest), children: [] };
  }

  /**
   * Fetches an index's children (each digest once per copy, however often it is listed)
   * and theirs, down to maxIndexDepth; a child the destination already has is not walked.
   */
  private async resolveChildren(index: IndexNode): Promise<void> {
    const { source } = this.options;
    const where = `index ${source.repository}@${index.manifest.digest} at ${source.client.name}`;
    const unique = [...new Set(index.listed)];
    if (unique.length > 0 && index.depth + 1 > this.limits.maxIndexDepth) {
      throw new ManifestLimitError(`${where} nests indexes more than ${this.limits.maxIndexDepth} levels deep (worker.maxIndexDepth); not copied`);
    }
    const fresh = unique.filter((digest) => !this.resolving.has(digest));
    // The root, the children found so far, and these.
    if (1 + this.resolving.size + fresh.length > this.limits.maxManifests) {
      throw new ManifestLimitError(`${where} leads to more than ${this.limits.maxManifests} distinct manifests (worker.maxManifests); not copied`);
    }
    for (const digest of fresh) {
      const child = this.resolveChild(index, digest, where);
      // Awaited below and by every other index listing it; a failure must never go unheard.
      child.catch(() => undefined);
      this.resolving.set(digest, child);
    }
    const pending = unique.map((digest) => this.resolving.get(digest)!);
    await this.all(pending);
    for (const child of await Promise.all(pending)) if (child) index.children.push(child);
  }

  private async resolveChild(parent: IndexNode, digest: string, where: string): Promise<TreeNode | undefined> {
    const { source, destination } = this.options;
    const signal = this.signal;
    const present = await destination.client.headManifest(destination.repository, digest, signal);
    if (present?.digest === digest) return undefined;
    const manifest = await source.client.getManifest(source.repository, digest, signal);
    if (!manifest) {
      throw new RegistryError(`${where} refers to ${digest}, which the source does not have`, {
        registry: source.client.name, repository: source.repository, reference: digest, status: 404, code: 'MANIFEST_UNKNOWN',
      });
    }
    const node = this.resolveNode(manifest, digest, parent.depth + 1);
    if (node.kind === 'index') await this.resolveChildren(node);
    return node;
  }

  /** Blobs of an image; children of an index bottom-up, each pushed once by digest. */
  private async copyNode(node: TreeNode): Promise<void> {
    if (node.kind === 'image') {
      await this.all(node.descriptors.map((d) => this.copyBlobOnce(d)));
      return;
    }
    await this.all(node.children.map((child) => {
      let pushed = this.pushed.get(child.manifest.digest);
      if (!pushed) {
        pushed = (async () => {
          await this.copyNode(child);
          const { destination } = this.options;
          await destination.client.putManifest(destination.repository, child.manifest.digest, child.manifest, this.signal);
          this.stats.manifests += 1;
          this.report();
        })();
        this.pushed.set(child.manifest.digest, pushed);
      }
      return pushed;
    }));
  }

  /** Like Promise.all, but the first failure aborts the siblings and is rethrown once all settled. */
  private async all<T>(tasks: Array<Promise<T>>): Promise<void> {
    let first: { error: unknown } | undefined;
    for (const task of tasks) {
      task.catch((error: unknown) => {
        if (first) return;
        first = { error };
        // The caller's own signal already stops everything, except chunked uploads, which
        // are let finish their chunk in flight: aborting here would cut them mid-body.
        if (!this.options.signal?.aborted) this.controller.abort(error);
      });
    }
    await Promise.allSettled(tasks);
    if (first) throw first.error;
  }

  private copyBlobOnce(descriptor: Descriptor): Promise<BlobOutcome> {
    let pending = this.blobs.get(descriptor.digest);
    if (!pending) {
      this.blobsTotal += 1;
      pending = this.limit(() => {
        this.signal.throwIfAborted();
        return this.copyBlob(descriptor);
      }).then((outcome) => {
        this.stats.blobs[outcome] += 1;
        this.blobsDone += 1;
        this.report();
        return outcome;
      });
      this.blobs.set(descriptor.digest, pending);
    }
    return pending;
  }

  private async copyBlob(descriptor: Descriptor): Promise<BlobOutcome> {
    const { destination } = this.options;
    const signal = this.signal;
    const dest = destination.client;
    const repo = destination.repository;
    // Foreign layers live outside the registry (e.g. Windows base layers); they are not pushed.
    if (isNonDistributable(descriptor)) return 'skipped';
    const key: UploadSessionKey = { destinationRegistry: dest.name, repository: repo, digest: descriptor.digest };
    // A blob the index has seen in another repository of this registry goes straight to a
    // mount, whose 201 proves it is there: the HEAD that would only find it absent from this
    // repository is one round trip per shared layer saved. A refused mount falls through.
    const seen = await this.flights.sighting(this.registryKey, descriptor.digest);
    if (seen !== undefined && seen !== repo) {
      const outcome = await this.fromSighting(descriptor, seen);
      if (outcome) {
        await this.sessions.clear(key);
        return outcome;
      }
    }
    if (await dest.headBlob(repo, descriptor.digest, signal)) {
      await this.flights.sighted(this.registryKey, descriptor.digest, repo);
      await this.sessions.clear(key);
      return 'skipped';
    }

    // One upload per blob and registry at a time: everyone else waits for it, then mounts.
    // A sighting that proves wrong is forgotten and the next round asks again.
    for (let round = 0; ; round++) {
      const slot = round < 3
        ? await this.flights.acquire(this.registryKey, descriptor.digest, signal)
        : undefined;
      if (slot?.kind === 'sighting') {
        const outcome = await this.fromSighting(descriptor, slot.repository);
        if (outcome) return outcome;
        continue;
      }
      try {
        const outcome = await this.transfer(descriptor, key);
        await slot?.lease.complete(repo);
        return outcome;
      } catch (e) {
        await slot?.lease.release();
        throw e;
      }
    }
  }

  /** Mounts from a repository known to hold the blob; undefined when it did not (forgotten). */
  private async fromSighting(descriptor: Descriptor, from: string): Promise<BlobOutcome | undefined> {
    const dest = this.options.destination.client;
    const repo = this.options.destination.repository;
    if (from === repo) {
      // Uploaded here by another job meanwhile.
      if (await dest.headBlob(repo, descriptor.digest, this.signal)) return 'skipped';
    } else {
      try {
        const mount = await dest.mountBlob(repo, descriptor.digest, from, this.signal);
        if (mount.mounted) {
          await this.flights.sighted(this.registryKey, descriptor.digest, repo);
          return 'mounted';
        }
        await dest.cancelUpload(repo, mount.location);
      } catch (e) {
        // A throttled or failing registry says nothing about the sighting: try the blob again
        // later rather than upload it a second time. A refusal only costs the optimisation.
        if (this.signal.aborted || (e instanceof RegistryError && e.transient)) throw e;
      }
    }
    await this.flights.forget(this.registryKey, descriptor.digest, from);
    return undefined;
  }

  /** Resumes, mounts from the source repository (same registry) or uploads the blob. */
  private async transfer(descriptor: Descriptor, key: UploadSessionKey): Promise<BlobOutcome> {
    const { source, destination } = this.options;
    const signal = this.signal;
    const dest = destination.client;
    const repo = destination.repository;
    const attempts = Math.max(1, this.options.blobAttempts ?? 3);
    // An upload an earlier attempt left open continues where the registry says it stands.
    const resume = await this.resumable(key);
    if (resume) {
      try {
        await this.upload(descriptor, key, { resume });
        await this.sessions.clear(key);
        return 'copied';
      } catch (e) {
        if (!(e instanceof RegistryError) || !e.transient || signal.aborted || attempts <= 1) throw e;
        // Transient: the blob is tried again below (resuming again when the session survived).
      }
    }

    let location: string | undefined;
    // The destination may mirror the source's repository names: try a mount from there.
    const candidates = source.repository !== repo ? [source.repository] : [];
    // When no mount is likely (another registry than the source), the blob will be
    // downloaded: its GET starts while the mount/upload POST is in flight instead of after
    // it, saving a round trip before the first byte moves.
    const mountLikely = source.client.url === dest.url;
    const early = mountLikely ? undefined : this.open(descriptor, 0);
    early?.catch(() => undefined);
    const discardEarly = async () => early?.then((s) => s.destroy(), () => undefined);
    if (early && candidates.length === 0) {
      // Nothing to mount from: the upload session opens while the download's first bytes
      // are on their way, instead of after.
      try {
        location = await dest.startUpload(repo, signal);
      } catch (e) {
        await discardEarly();
        throw e;
      }
    }
    for (const from of candidates) {
      try {
        const mount = await dest.mountBlob(repo, descriptor.digest, from, signal);
        if (mount.mounted) {
          await discardEarly();
          return 'mounted';
        }
        if (location === undefined) location = mount.location;
        else await dest.cancelUpload(repo, mount.location);
      } catch (e) {
        if (signal?.aborted) {
          await discardEarly();
          throw e;
        }
        // A refused mount only costs the optimisation: fall through to a normal upload.
      }
    }

    for (let attempt = resume ? 2 : 1, first = true; ; attempt++, first = false) {
      try {
        const again = attempt > 1 ? await this.resumable(key) : undefined;
        if (!first || again) await discardEarly();
        await this.upload(descriptor, key, again ? { resume: again } : location ? { location } : {}, first && !again && early ? early : undefined);
        await this.sessions.clear(key);
        return 'copied';
      } catch (e) {
        location = undefined; // A failed upload session is cancelled or recorded; never reused as fresh.
        if (attempt >= attempts || !(e instanceof RegistryError) || !e.transient || signal.aborted) throw e;
        await sleep(backoffDelayMs(attempt, { baseMs: 500, capMs: 30_000, maxRetryAfterMs: 30_000 }, e.retryAfterMs), signal);
      }
    }
  }

  /** The recorded session for this blob, if the registry still holds it (else it is forgotten). */
  private async resumable(key: UploadSessionKey): Promise<UploadCheckpoint | undefined> {
    const saved = await this.sessions.get(key);
    if (!saved) return undefined;
    try {
      const status = await this.options.destination.client.uploadStatus(key.repository, key.digest, saved.location, this.signal);
      if (status.offset > 0) return status;
    } catch (e) {
      if (this.signal.aborted) throw e;
      // Gone (404 BLOB_UPLOAD_UNKNOWN) or unreadable: start the blob over.
    }
    await this.sessions.clear(key);
    return undefined;
  }

  /** The source blob from `offset`; the download feeds the chunk in flight, so it lives as long as the upload may. */
  private async open(descriptor: Descriptor, offset: number): Promise<Readable> {
    const { source } = this.options;
    return (await source.client.openBlob(source.repository, descriptor.digest, this.uploadSignal, offset, descriptor.size)).stream;
  }

  private async upload(
    descriptor: Descriptor, key: UploadSessionKey, at: { location?: string; resume?: UploadCheckpoint }, opened?: Promise<Readable>,
  ): Promise<void> {
    const { source, destination } = this.options;
    const open = (offset: number) => this.open(descriptor, offset);
    const stream = await (opened ?? open(at.resume?.offset ?? 0));
    let sent = 0;
    try {
      await destination.client.uploadBlob(destination.repository, { digest: descriptor.digest, size: descriptor.size }, stream, {
        ...(at.location ? { location: at.location } : {}),
        ...(at.resume ? { resume: at.resume } : {}),
        signal: this.uploadSignal,
        ...(this.options.signal ? { stop: this.options.signal } : {}),
        reopen: open,
        onCheckpoint: (c) => this.sessions.save({ ...key, location: c.location, offset: c.offset }),
        origin: { registry: source.client.name, repository: source.repository },
        onBytes: (n) => {
          sent += n;
          this.stats.bytes += n;
          this.reportBytes();
        },
      });
    } catch (e) {
      // Bytes of a failed attempt do not count towards what was copied.
      this.stats.bytes -= sent;
      stream.destroy();
      throw e;
    }
  }
}
