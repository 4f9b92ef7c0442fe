// One SQLite file shared by `ferry serve` and CLI processes: WAL lets readers run beside
// the writer, busy_timeout makes a second writer wait instead of failing.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from './migrations.js';

export const DATABASE_FILE = 'ferry.db';

export function openDatabase(dataDir: string, options: { busyTimeoutMs?: number } = {}): Database.Database {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, DATABASE_FILE);
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (err) {
    throw new Error(`cannot open the job database ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db);
  } catch (err) {
    db.close();
    throw new Error(`cannot prepare the job database ${path}: ${(err as Error).message}`, { cause: err });
  }
  return db;
}
