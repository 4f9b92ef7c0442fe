// The embedded backend: queue, job store and blob index in one SQLite file under dataDir.
import { systemClock, type Backend, type Clock } from '../../jobs/ports.js';
import { createSqliteBlobIndex } from './blob-index.js';
import { startCheckpointer } from './checkpointer.js';
import { openDatabase } from './database.js';
import { GroupCommit } from './group-commit.js';
import { createSqliteRateStore } from './rate-store.js';
import { createSqliteQueue } from './queue.js';
import { createSqliteControlStore } from './control-store.js';
import { createSqliteStore } from './store.js';

export interface EmbeddedBackendOptions {
  dataDir: string;
  /** Injected by tests to expire visibility timeouts and leases without sleeping. */
  clock?: Clock;
  /** Checkpoint the WAL from a background thread (long-running writers: `ferry serve`). */
  backgroundCheckpoints?: boolean;
}

export function openEmbeddedBackend(options: EmbeddedBackendOptions): Backend {
  const clock = options.clock ?? systemClock;
  const db = openDatabase(options.dataDir);
  // Intake writes of one event-loop turn share a commit (see group-commit.ts).
  const writes = new GroupCommit(db);
  const queue = createSqliteQueue(db, clock, writes);
  const store = createSqliteStore(db, clock, writes);
  const blobIndex = createSqliteBlobIndex(db, clock);
  const control = createSqliteControlStore(db, clock, writes);
  const checkpointer = options.backgroundCheckpoints ? startCheckpointer(db) : undefined;
  let closed = false;
  return {
    queue,
    store,
    blobIndex,
    rateStore: createSqliteRateStore(db),
    async recoverAbandoned() {
      // Blob upload leases of a dead process would hold every job needing those blobs until they expire.
      return { messages: queue.releaseAbandoned(), leases: store.releaseAbandoned() + blobIndex.releaseAbandoned() };
    },
    control,
    async close() {
      if (closed) return;
      closed = true;
      await checkpointer?.stop();
      queue.close();
      db.close();
    },
  };
}

export { DATABASE_FILE } from './database.js';
