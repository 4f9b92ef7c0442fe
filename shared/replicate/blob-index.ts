// The blob index: which blobs each destination registry is known to hold, in which
// repository, and which are being uploaded right now (a lease). Copies consult it before
// uploading, so a blob crosses to a registry once and every other repository mounts it.
// It is a hint: entries expire, a refused mount is forgotten and falls back to an upload.
// Adapters: MemoryBlobIndex here (one process), shared/adapters/embedded (SQLite, shared by
// the processes of one machine), shared/adapters/aws (DynamoDB, shared by every worker).
// One contract suite (test/contract) runs on all of them.

/** Where the index reads the time (tests drive it by hand). */
export interface Clock {
  now(): Date;
}

const systemClock: Clock = { now: () => new Date() };

export interface BlobEntry {
  /** A repository of the registry known to hold the blob (until the sighting expires). */
  repository?: string;
  /** Who uploads the blob to the registry now (while the lease is unexpired). */
  uploader?: string;
}

export interface BlobClaim {
  /** true: the caller holds the upload lease (newly, or renewed). */
  claimed: boolean;
  /** The entry as it stood: on a lost claim, the holder and any sighting. */
  entry: BlobEntry;
}

export interface BlobIndex {
  /** What is known of `digest` at `registry` now (expired parts left out). */
  get(registry: string, digest: string): Promise<BlobEntry>;
  /**
   * Takes the upload lease for `leaseMs` unless another owner holds an unexpired one. The
   * same owner claiming again renews it (heartbeat of a long upload).
   */
  claim(registry: string, digest: string, owner: string, leaseMs: number): Promise<BlobClaim>;
  /** `repository` holds the blob now; ends `owner`'s lease when given and still held. */
  record(registry: string, digest: string, repository: string, owner?: string): Promise<void>;
  /** Ends `owner`'s lease (upload failed or given up); does nothing when another holds it. */
  release(registry: string, digest: string, owner: string): Promise<void>;
  /** The sighting in `repository` proved wrong (the mount was refused): drop it. */
  forget(registry: string, digest: string, repository: string): Promise<void>;
}

/** How long a sighting is trusted; a registry may garbage-collect a blob nobody references. */
export const DEFAULT_SIGHTING_TTL_MS = 24 * 60 * 60 * 1000;

export interface BlobIndexOptions {
  clock?: Clock;
  /** How long a sighting lasts (default 24 h). */
  sightingTtlMs?: number;
}

interface MemoryEntry {
  repository?: string;
  seenUntil?: number;
  uploader?: string;
  leaseUntil?: number;
}

/** One process's index (the default of a copy without a backend, e.g. `ferry copy`). */
export class MemoryBlobIndex implements BlobIndex {
  private readonly entries = new Map<string, MemoryEntry>();
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  /** `maxEntries` bounds the map; the oldest entries are dropped first. */
  constructor(options: BlobIndexOptions & { maxEntries?: number } = {}) {
    this.clock = options.clock ?? systemClock;
    this.ttlMs = options.sightingTtlMs ?? DEFAULT_SIGHTING_TTL_MS;
    this.maxEntries = options.maxEntries ?? 50_000;
  }

  async get(registry: string, digest: string): Promise<BlobEntry> {
    return this.view(this.entries.get(entryKey(registry, digest)));
  }

  async claim(registry: string, digest: string, owner: string, leaseMs: number): Promise<BlobClaim> {
    const key = entryKey(registry, digest);
    const entry = this.entries.get(key) ?? {};
    const seen = this.view(entry);
    if (seen.uploader !== undefined && seen.uploader !== owner) return { claimed: false, entry: seen };
    this.put(key, { ...entry, uploader: owner, leaseUntil: this.now() + leaseMs });
    return { claimed: true, entry: this.view(this.entries.get(key)) };
  }

  async record(registry: string, digest: string, repository: string, owner?: string): Promise<void> {
    const key = entryKey(registry, digest);
    const entry: MemoryEntry = { ...this.entries.get(key), repository, seenUntil: this.now() + this.ttlMs };
    if (owner !== undefined && entry.uploader === owner) {
      delete entry.uploader;
      delete entry.leaseUntil;
    }
    this.put(key, entry);
  }

  async release(registry: string, digest: string, owner: string): Promise<void> {
    const key = entryKey(registry, digest);
    const entry = this.entries.get(key);
    if (!entry || entry.uploader !== owner) return;
    const { uploader: _u, leaseUntil: _l, ...rest } = entry;
    if (rest.repository === undefined) this.entries.delete(key);
    else this.entries.set(key, rest);
  }

  async forget(registry: string, digest: string, repository: string): Promise<void> {
    const key = entryKey(registry, digest);
    const entry = this.entries.get(key);
    if (!entry || entry.repository !== repository) return;
    const { repository: _r, seenUntil: _s, ...rest } = entry;
    if (rest.uploader === undefined) this.entries.delete(key);
    else this.entries.set(key, rest);
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private view(entry: MemoryEntry | undefined): BlobEntry {
    if (!entry) return {};
    const now = this.now();
    const out: BlobEntry = {};
    if (entry.repository !== undefined && (entry.seenUntil ?? 0) > now) out.repository = entry.repository;
    if (entry.uploader !== undefined && (entry.leaseUntil ?? 0) > now) out.uploader = entry.uploader;
    return out;
  }

  private put(key: string, entry: MemoryEntry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}

function entryKey(registry: string, digest: string): string {
  return `${registry} ${digest}`;
}

/** One index per process for copies given none: every copy benefits from the others' uploads. */
export const processBlobIndex = new MemoryBlobIndex();
