// Single-flight of blob uploads per destination registry. Before a copy uploads a blob it
// asks here: either a repository of the registry is known to hold the blob (mount from it),
// or the caller gets the upload lease (upload, then record). While someone else holds the
// lease, the caller waits: for a job of this process, on its promise; for another process
// (another Lambda instance), by polling the shared index until the lease ends or a sighting
// appears. A holder that dies stops renewing its lease, which then expires.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { sleep } from '../retry/sleep.js';
import { processBlobIndex, type BlobIndex } from './blob-index.js';

export interface BlobFlightOptions {
  /** Lease length; renewed every third of it while the upload runs. Default 30 s. */
  leaseMs?: number;
  /** First and longest pause between polls of another process's lease. Default 100 ms .. 1 s. */
  pollMs?: { first: number; max: number };
  /** Names this process in leases (default host:pid:random). */
  owner?: string;
}

/** What to do about one blob: mount it from a repository that holds it, or upload it. */
export type BlobSlot =
  | { kind: 'sighting'; repository: string; waited: boolean }
  | { kind: 'upload'; lease: UploadLease; waited: boolean };

export interface UploadLease {
  /** The blob is at `repository` now: recorded for everyone, and the lease ends. */
  complete(repository: string): Promise<void>;
  /** The upload failed or was abandoned: the next one in line takes over. */
  release(): Promise<void>;
}

export class BlobFlights {
  private readonly local = new Map<string, Promise<void>>();
  private readonly leaseMs: number;
  private readonly poll: { first: number; max: number };
  private readonly owner: string;

  constructor(readonly index: BlobIndex, options: BlobFlightOptions = {}) {
    this.leaseMs = options.leaseMs ?? 30_000;
    this.poll = options.pollMs ?? { first: 100, max: 1000 };
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  /**
   * Waits until the blob is known at `registry` (-> sighting) or this caller holds the
   * upload lease (-> upload; the caller must complete or release it).
   */
  async acquire(registry: string, digest: string, signal?: AbortSignal): Promise<BlobSlot> {
    const key = `${registry} ${digest}`;
    let waited = false;
    let pause = this.poll.first;
    for (;;) {
      signal?.throwIfAborted();
      const mine = this.local.get(key);
      if (mine) {
        waited = true;
        await mine;
        continue;
      }
      const entry = await this.index.get(registry, digest).catch(() => undefined);
      // The index is a hint: unreachable, the blob is uploaded as if nobody knew it.
      if (!entry) return this.unshared(key, waited);
      if (entry.repository !== undefined) return { kind: 'sighting', repository: entry.repository, waited };
      // A job of this process may have started while the index answered.
      if (this.local.has(key)) continue;
      let finish!: () => void;
      this.local.set(key, new Promise<void>((resolve) => { finish = resolve; }));
      const end = (): void => {
        this.local.delete(key);
        finish();
      };
      const claim = await this.index.claim(registry, digest, this.owner, this.leaseMs).catch(() => undefined);
      if (!claim) return { kind: 'upload', lease: { complete: async () => end(), release: async () => end() }, waited };
      if (claim.claimed) return { kind: 'upload', lease: this.lease(registry, digest, end), waited };
      end();
      if (claim.entry.repository !== undefined) return { kind: 'sighting', repository: claim.entry.repository, waited: true };
      // Another process uploads it: look again shortly.
      waited = true;
      await sleep(pause, signal);
      pause = Math.min(this.poll.max, pause * 2);
    }
  }

  /** A repository of `registry` the index knows to hold the blob, without waiting or claiming (best effort). */
  async sighting(registry: string, digest: string): Promise<string | undefined> {
    const entry = await this.index.get(registry, digest).catch(() => undefined);
    return entry?.repository;
  }

  /** `repository` holds the blob (found by HEAD, mounted): recorded for everyone, best effort. */
  async sighted(registry: string, digest: string, repository: string): Promise<void> {
    await this.index.record(registry, digest, repository).catch(() => undefined);
  }

  /** A sighting that proved wrong (mount refused, HEAD found nothing); best effort. */
  async forget(registry: string, digest: string, repository: string): Promise<void> {
    await this.index.forget(registry, digest, repository).catch(() => undefined);
  }

  /** An upload that only this process's jobs wait for (the shared index did not answer). */
  private unshared(key: string, waited: boolean): BlobSlot {
    if (this.local.has(key)) return { kind: 'upload', lease: { complete: async () => {}, release: async () => {} }, waited };
    let finish!: () => void;
    this.local.set(key, new Promise<void>((resolve) => { finish = resolve; }));
    const end = async (): Promise<void> => {
      this.local.delete(key);
      finish();
    };
    return { kind: 'upload', lease: { complete: end, release: end }, waited };
  }

  private lease(registry: string, digest: string, end: () => void): UploadLease {
    let done = false;
    const renew = setInterval(() => {
      this.index.claim(registry, digest, this.owner, this.leaseMs).catch(() => undefined);
    }, Math.max(100, Math.floor(this.leaseMs / 3)));
    renew.unref();
    const close = (): boolean => {
      if (done) return false;
      done = true;
      clearInterval(renew);
      return true;
    };
    return {
      complete: async (repository) => {
        if (!close()) return;
        // Best effort: a lost record costs a later upload, a lost lease expires.
        await this.index.record(registry, digest, repository, this.owner).catch(() => undefined);
        end();
      },
      release: async () => {
        if (!close()) return;
        await this.index.release(registry, digest, this.owner).catch(() => undefined);
        end();
      },
    };
  }
}

/** For copies given none (`ferry copy`): one process, one index in memory. */
export const processBlobFlights = new BlobFlights(processBlobIndex);
