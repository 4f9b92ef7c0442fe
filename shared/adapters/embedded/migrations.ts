// Versioned schema for the embedded backend. PRAGMA user_version records how many
// migrations ran; each migration runs once, in order, inside one IMMEDIATE transaction so
// two processes opening a fresh file at the same time cannot both apply it.
import type { Database } from 'better-sqlite3';

const MIGRATIONS: readonly string[] = [
  // 1: queue, dead letters, jobs, key leases.
  `
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    body TEXT NOT NULL,
    visible_at INTEGER NOT NULL,      -- epoch ms; receivable when <= now
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,                     -- token of the latest delivery; NULL until received
    sent_at INTEGER NOT NULL
  );
  CREATE INDEX messages_visible ON messages (visible_at, id);

  CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT,
    receive_count INTEGER NOT NULL,
    dead_at INTEGER NOT NULL
  );
  CREATE INDEX dead_letters_job ON dead_letters (job_id);

  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    policy TEXT NOT NULL,
    source_repository TEXT NOT NULL,
    dest_repository TEXT NOT NULL,
    created_at TEXT NOT NULL,         -- ISO 8601 UTC: sorts as text
    expires_at INTEGER,               -- epoch seconds (TTL) for terminal records
    body TEXT NOT NULL                -- the whole Job as JSON
  );
  CREATE INDEX jobs_key_status ON jobs (key, status);
  CREATE INDEX jobs_created ON jobs (created_at, id);
  CREATE INDEX jobs_status_created ON jobs (status, created_at, id);
  CREATE INDEX jobs_policy_created ON jobs (policy, created_at, id);
  CREATE INDEX jobs_source_repo_created ON jobs (source_repository, created_at, id);
  CREATE INDEX jobs_dest_repo_created ON jobs (dest_repository, created_at, id);
  CREATE INDEX jobs_expires ON jobs (expires_at) WHERE expires_at IS NOT NULL;

  CREATE TABLE key_leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at INTEGER NOT NULL       -- epoch ms
  );
  `,
  // 2: coalescing looks up the queued job of a key; with (key, status) alone the planner
  // preferred the (status, created_at) index and scanned every queued job per create.
  `
  DROP INDEX jobs_key_status;
  CREATE INDEX jobs_key_status_created ON jobs (key, status, created_at, id);
  `,
  // 3: the blob index (shared/replicate/blob-index.ts): where each destination registry
  // holds a blob, and who uploads it now. Times are epoch ms.
  `
  CREATE TABLE blob_index (
    registry TEXT NOT NULL,
    digest TEXT NOT NULL,
    repository TEXT,
    seen_until INTEGER,
    uploader TEXT,
    lease_until INTEGER,
    PRIMARY KEY (registry, digest)
  ) WITHOUT ROWID;
  CREATE INDEX blob_index_seen ON blob_index (seen_until);
  `,
  // 4: rate control shared by the processes of one machine (shared/registry/rate-control.ts):
  // a registry's back-off state (JSON) and its next free request slot (epoch ms).
  `
  CREATE TABLE rate_state (
    registry TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    tat INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // 5: control plane: policy state (paused, last sync/verify) and recent webhook deliveries.
  // Attempt history lives in the job body (jobs.body), which needs no column.
  `
  CREATE TABLE policy_state (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL                -- PolicyState as JSON
  );
  CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    registry TEXT NOT NULL,
    at INTEGER NOT NULL,              -- epoch ms
    body TEXT NOT NULL                -- Delivery as JSON
  );
  CREATE INDEX deliveries_registry ON deliveries (registry, seq);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: Database): void {
  const apply = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new Error(`database schema version ${current} is newer than this ferry understands (${MIGRATIONS.length}): upgrade ferry`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
  });
  apply.immediate();
}
