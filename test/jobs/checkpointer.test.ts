// WAL checkpoints of a long-running embedded backend (`ferry serve`) run on a background
// thread: the connection answering webhooks stops checkpointing itself, the thread copies
// every committed frame back into the database file, and closing hands checkpoints back.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, DATABASE_FILE } from '../../shared/adapters/embedded/database.js';
import { startCheckpointer } from '../../shared/adapters/embedded/checkpointer.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-checkpointer-'));
  dirs.push(dir);
  return dir;
}

describe('background WAL checkpoints', () => {
  it('take over from the writing connection and keep the database file up to date', async () => {
    const dir = freshDir();
    const db = openDatabase(dir);
    db.exec('CREATE TABLE t (v TEXT)');
    const checkpointer = startCheckpointer(db, { everyMs: 20 });
    try {
      await expect.poll(() => db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      const fileBefore = statSync(join(dir, DATABASE_FILE)).size;
      const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
      for (let i = 0; i < 2000; i++) insert.run('x'.repeat(1000));
      // With its own checkpoints off, only the thread can have moved the rows into the file.
      await expect.poll(() => statSync(join(dir, DATABASE_FILE)).size, { timeout: 5000 }).toBeGreaterThan(fileBefore + 1_000_000);
    } finally {
      await checkpointer.stop();
    }
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    db.close();
  });

  it('write everything into the database file when stopped', async () => {
    const dir = freshDir();
    const db = openDatabase(dir);
    db.exec('CREATE TABLE t (v TEXT)');
    // No round of its own during the test: only the last checkpoint, on stop, can move rows.
    const checkpointer = startCheckpointer(db, { everyMs: 60_000 });
    await expect.poll(() => db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const file = join(dir, DATABASE_FILE);
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    for (let i = 0; i < 2000; i++) insert.run('y'.repeat(1000));
    const before = statSync(file).size;
    expect(before).toBeLessThan(1_000_000);
    await checkpointer.stop();
    expect(statSync(file).size).toBeGreaterThan(before + 1_000_000);
    db.close();
  });
});
