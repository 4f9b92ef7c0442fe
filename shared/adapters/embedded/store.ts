// JobStore on SQLite. Read-modify-write steps (create with coalescing, conditional
// transitions, key leases) run in IMMEDIATE transactions: the write lock is taken before
// the read, so two processes can never both act on the same stale view.
import type { Database } from 'better-sqlite3';
import { TERMINAL_STATUSES, type Job, type JobStatus } from '../../jobs/model.js';
import { InvalidCursorError, type Clock, type CreateResult, type JobPage, type JobPatch, type JobQuery, type JobStore } from '../../jobs/ports.js';
import { identityAfter, isDeadHere } from '../../jobs/process-identity.js';
import type { GroupCommit } from './group-commit.js';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

interface Cursor { createdAt: string; id: string }

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id])).toString('base64url');
}

function decodeCursor(cursor: string): Cursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return { createdAt: v[0], id: v[1] };
  } catch { /* reported below */ }
  throw new InvalidCursorError(cursor);
}

/** Applies a patch; a field patched to undefined is removed (e.g. expiresAt when a job is replayed). */
export function applyPatch(job: Job, patch: JobPatch, updatedAt: string): Job {
  const next: Record<string, unknown> = { ...job };
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'id' || k === 'key') continue;
    if (v === undefined) delete next[k];
    else next[k] = v;
  }
  if (patch.updatedAt === undefined) next.updatedAt = updatedAt;
  return next as unknown as Job;
}

/** `writes`: group commit shared with the queue (webhook intake); without it each createMany is its own transaction. */
export function createSqliteStore(db: Database, clock: Clock, writes?: GroupCommit): JobStore & { releaseAbandoned(): number } {
  const selectById = db.prepare<[string], { body: string }>('SELECT body FROM jobs WHERE id = ?');
  const selectQueuedByKey = db.prepare<[string], { body: string }>("SELECT body FROM jobs WHERE key = ? AND status = 'queued' ORDER BY created_at, id LIMIT 1");
  const insertJob = db.prepare<[string, string, string, string, string, string, string, number | null, string]>(
    'INSERT INTO jobs (id, key, status, policy, source_repository, dest_repository, created_at, expires_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const updateJob = db.prepare<[string, number | null, string, string]>('UPDATE jobs SET status = ?, expires_at = ?, body = ? WHERE id = ?');
  const selectLease = db.prepare<[string], { owner: string; expires_at: number }>('SELECT owner, expires_at FROM key_leases WHERE key = ?');
  const upsertLease = db.prepare<[string, string, number]>(
    'INSERT INTO key_leases (key, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at',
  );
  const deleteLease = db.prepare<[string, string]>('DELETE FROM key_leases WHERE key = ? AND owner = ?');
  const selectLeases = db.prepare<[number], { key: string; owner: string }>('SELECT key, owner FROM key_leases WHERE expires_at > ?');
  const terminalList = TERMINAL_STATUSES.map((s) => `'${s}'`).join(', ');
  const purge = db.prepare<[number]>(`DELETE FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ? AND status IN (${terminalList})`);

  const parse = (body: string) => JSON.parse(body) as Job;

  const createOne = (job: Job): CreateResult => {
    const same = selectById.get(job.id);
    if (same) return { job: parse(same.body), created: false };
    if (job.status === 'queued') {
      const queued = selectQueuedByKey.get(job.key);
      if (queued) return { job: parse(queued.body), created: false };
    }
    insertJob.run(job.id, job.key, job.status, job.policy, job.source.repository, job.destination.repository, job.createdAt, job.expiresAt ?? null, JSON.stringify(job));
    return { job, created: true };
  };
  const createTx = db.transaction(createOne);
  const createManyTx = db.transaction((jobs: Job[]): CreateResult[] => jobs.map(createOne));

  const transitionTx = db.transaction((id: string, from: readonly JobStatus[], patch: JobPatch): Job | undefined => {
    const row = selectById.get(id);
    if (!row) return undefined;
    const current = parse(row.body);
    if (!from.includes(current.status)) return undefined;
    const next = applyPatch(current, patch, clock.now().toISOString());
    updateJob.run(next.status, next.expiresAt ?? null, JSON.stringify(next), id);
    return next;
  });

  const claimTx = db.transaction((key: string, owner: string, leaseSeconds: number): boolean => {
    const now = clock.now().getTime();
    const lease = selectLease.get(key);
    if (lease && lease.owner !== owner && lease.expires_at > now) return false;
    upsertLease.run(key, owner, now + leaseSeconds * 1000);
    return true;
  });

  return {
    async create(job) {
      return createTx.immediate(job);
    },

    async createMany(jobs) {
      return writes ? writes.submit(() => jobs.map(createOne)) : createManyTx.immediate(jobs);
    },

    async get(id) {
      const row = selectById.get(id);
      return row ? parse(row.body) : undefined;
    },

    async transition(id, from, patch) {
      return transitionTx.immediate(id, from, patch);
    },

    async claimKey(key, owner, leaseSeconds) {
      return claimTx.immediate(key, owner, leaseSeconds);
    },

    async releaseKey(key, owner) {
      deleteLease.run(key, owner);
    },

    async list(query: JobQuery): Promise<JobPage> {
      const where: string[] = [];
      const params: Array<string | number> = [];
      if (query.status) { where.push('status = ?'); params.push(query.status); }
      if (query.policy) { where.push('policy = ?'); params.push(query.policy); }
      if (query.repository) { where.push('(source_repository = ? OR dest_repository = ?)'); params.push(query.repository, query.repository); }
      if (query.since) { where.push('created_at >= ?'); params.push(query.since); }
      if (query.until) { where.push('created_at < ?'); params.push(query.until); }
      if (query.cursor) {
        const c = decodeCursor(query.cursor);
        where.push('(created_at < ? OR (created_at = ? AND id < ?))');
        params.push(c.createdAt, c.createdAt, c.id);
      }
      const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(query.limit ?? DEFAULT_PAGE)));
      const sql = `SELECT body FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
      const rows = db.prepare<Array<string | number>, { body: string }>(sql).all(...params, limit + 1);
      const jobs = rows.slice(0, limit).map((r) => parse(r.body));
      const last = jobs[jobs.length - 1];
      return rows.length > limit && last ? { jobs, cursor: encodeCursor({ createdAt: last.createdAt, id: last.id }) } : { jobs };
    },

    /** Ends the key leases of runs whose process on this host is gone (see process-identity.ts). */
    releaseAbandoned() {
      let released = 0;
      for (const lease of selectLeases.all(clock.now().getTime())) {
        const holder = identityAfter(lease.owner, '@');
        if (holder && isDeadHere(holder)) released += deleteLease.run(lease.key, lease.owner).changes;
      }
      return released;
    },

    async purgeExpired(nowEpochSeconds) {
      return purge.run(nowEpochSeconds).changes;
    },
  };
}
