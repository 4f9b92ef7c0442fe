// BlobIndex on SQLite: one row per (registry, digest). The lease is taken by a conditional
// upsert, so the processes of one machine sharing the file (ferry serve, ferry sync --wait)
// never both hold it.
import type { Database } from 'better-sqlite3';
import type { Clock } from '../../jobs/ports.js';
import { identityAfter, isDeadHere } from '../../jobs/process-identity.js';
import { DEFAULT_SIGHTING_TTL_MS, type BlobClaim, type BlobEntry, type BlobIndex } from '../../replicate/blob-index.js';

interface Row {
  repository: string | null;
  seen_until: number | null;
  uploader: string | null;
  lease_until: number | null;
}

/** Rows whose sighting and lease both ended longer ago than this are deleted now and then. */
const PURGE_EVERY_MS = 10 * 60 * 1000;

export function createSqliteBlobIndex(db: Database, clock: Clock, options: { sightingTtlMs?: number } = {}): BlobIndex & { releaseAbandoned(): number } {
  const ttlMs = options.sightingTtlMs ?? DEFAULT_SIGHTING_TTL_MS;
  const select = db.prepare<[string, string], Row>('SELECT repository, seen_until, uploader, lease_until FROM blob_index WHERE registry = ? AND digest = ?');
  // Takes the lease when nobody else holds an unexpired one; no row changed = lost.
  const claim = db.prepare<{ registry: string; digest: string; owner: string; until: number; now: number }>(`
    INSERT INTO blob_index (registry, digest, uploader, lease_until) VALUES (@registry, @digest, @owner, @until)
    ON CONFLICT (registry, digest) DO UPDATE SET uploader = @owner, lease_until = @until
    WHERE blob_index.uploader IS NULL OR blob_index.uploader = @owner OR blob_index.lease_until <= @now`);
  const record = db.prepare<{ registry: string; digest: string; repository: string; until: number; owner: string | null }>(`
    INSERT INTO blob_index (registry, digest, repository, seen_until) VALUES (@registry, @digest, @repository, @until)
    ON CONFLICT (registry, digest) DO UPDATE SET repository = @repository, seen_until = @until,
      uploader = CASE WHEN uploader = @owner THEN NULL ELSE uploader END,
      lease_until = CASE WHEN uploader = @owner THEN NULL ELSE lease_until END`);
  const release = db.prepare<[string, string, string]>('UPDATE blob_index SET uploader = NULL, lease_until = NULL WHERE registry = ? AND digest = ? AND uploader = ?');
  const forget = db.prepare<[string, string, string]>('UPDATE blob_index SET repository = NULL, seen_until = NULL WHERE registry = ? AND digest = ? AND repository = ?');
  const held = db.prepare<[number], { registry: string; digest: string; uploader: string }>('SELECT registry, digest, uploader FROM blob_index WHERE uploader IS NOT NULL AND lease_until > ?');
  const purge = db.prepare<[number, number]>('DELETE FROM blob_index WHERE coalesce(seen_until, 0) <= ? AND coalesce(lease_until, 0) <= ?');
  let lastPurge = 0;

  const now = (): number => clock.now().getTime();
  const view = (row: Row | undefined, at: number): BlobEntry => {
    const entry: BlobEntry = {};
    if (!row) return entry;
    if (row.repository !== null && (row.seen_until ?? 0) > at) entry.repository = row.repository;
    if (row.uploader !== null && (row.lease_until ?? 0) > at) entry.uploader = row.uploader;
    return entry;
  };
  const claimTx = db.transaction((registry: string, digest: string, owner: string, leaseMs: number): BlobClaim => {
    const at = now();
    const changed = claim.run({ registry, digest, owner, until: at + leaseMs, now: at }).changes > 0;
    return { claimed: changed, entry: view(select.get(registry, digest), at) };
  });

  return {
    async get(registry, digest) {
      return view(select.get(registry, digest), now());
    },
    async claim(registry, digest, owner, leaseMs) {
      return claimTx.immediate(registry, digest, owner, leaseMs);
    },
    async record(registry, digest, repository, owner) {
      const at = now();
      record.run({ registry, digest, repository, until: at + ttlMs, owner: owner ?? null });
      if (at - lastPurge > PURGE_EVERY_MS) {
        lastPurge = at;
        purge.run(at, at);
      }
    },
    async release(registry, digest, owner) {
      release.run(registry, digest, owner);
    },
    async forget(registry, digest, repository) {
      forget.run(registry, digest, repository);
    },
    /** Ends the upload leases of processes of this host that are gone (owners `...@<identity>`, see process-identity.ts). */
    releaseAbandoned() {
      let released = 0;
      for (const row of held.all(now())) {
        const holder = identityAfter(row.uploader, '@');
        if (holder && isDeadHere(holder)) released += release.run(row.registry, row.digest, row.uploader).changes;
      }
      return released;
    },
  };
}
