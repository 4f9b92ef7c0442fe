// WAL checkpoints off the main thread, for a long-running writer (`ferry serve`). SQLite's
// automatic checkpoint runs inside whichever commit crosses the threshold: on the thread
// answering webhooks, where it cost a sixth of the intake rate and most of its p99 latency
// (bench/intake.ts: 4,500 req/s, p99 11 ms with it; 5,300 req/s, p99 7 ms without). Here a
// worker thread with its own connection copies the WAL back into the database every
// `everyMs` (PASSIVE: never blocks the writer). If the thread cannot run, the connection
// keeps SQLite's automatic checkpoints: slower, never unbounded.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';

/** SQLite's default wal_autocheckpoint (pages), restored when the thread is gone. */
const AUTO_CHECKPOINT_PAGES = 1000;

// CommonJS, run with `eval`: the bundled CLI has no file of its own for a worker to load.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or closing: the next round tries again */ }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.postMessage('ready');
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the thread after a last checkpoint (bounded wait); the connection checkpoints itself again. */
  stop(): Promise<void>;
}

export function startCheckpointer(db: Database, options: { everyMs?: number } = {}): Checkpointer {
  let running = true;
  const fallBack = (): void => {
    if (!running) return;
    running = false;
    if (db.open) db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
  };
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), path: db.name, everyMs: options.everyMs ?? 200 },
    });
  } catch {
    return { stop: async () => {} };
  }
  // Only once the thread has its connection does this one stop checkpointing.
  worker.once('message', () => {
    if (running && db.open) db.pragma('wal_autocheckpoint = 0');
  });
  worker.once('error', fallBack);
  worker.once('exit', fallBack);
  worker.unref();
  return {
    async stop() {
      if (!running) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
