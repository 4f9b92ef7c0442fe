// What the embedded adapter promises beyond the shared contract: durability across
// restarts, several processes on one file (ferry serve + CLI), schema versioning.
import Database from 'better-sqlite3';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DATABASE_FILE, openEmbeddedBackend } from '../../shared/adapters/embedded/index.js';
import { SCHEMA_VERSION } from '../../shared/adapters/embedded/migrations.js';
import { GroupCommit } from '../../shared/adapters/embedded/group-commit.js';
import { DELIVERY_LIMITS } from '../../shared/jobs/control-ports.js';
import { createManualClock } from './manual-clock.js';

const run = promisify(execFile);
let dataDir: string;
beforeEach(() => { dataDir = mkdtempSync(join(tmpdir(), 'ferry-sqlite-')); });
afterEach(() => { rmSync(dataDir, { recursive: true, force: true }); });

describe('embedded SQLite backend', () => {
  it('keeps messages, dead letters and jobs across a restart', async () => {
    const a = openEmbeddedBackend({ dataDir });
    await a.queue.send([{ jobId: 'j1', key: 'k1' }, { jobId: 'j2', key: 'k2' }]);
    const [r] = await a.queue.receive(1, 60, 0);
    await a.queue.deadLetter(r!.receipt, r!.message, 'test');
    await a.close();
    const b = openEmbeddedBackend({ dataDir });
    try {
      expect(await b.queue.depth()).toEqual({ queued: 1, inFlight: 0, dead: 1 });
      expect((await b.queue.listDead()).map((d) => d.message.jobId)).toEqual([r!.message.jobId]);
    } finally {
      await b.close();
    }
  });

  it('keeps a delayed message across a restart: still hidden until its time, then delivered', async () => {
    const clock = createManualClock();
    const a = openEmbeddedBackend({ dataDir, clock });
    await a.queue.send([{ jobId: 'later', key: 'k-later' }], 30);
    await a.close();
    const b = openEmbeddedBackend({ dataDir, clock });
    try {
      expect(await b.queue.depth()).toEqual({ queued: 1, inFlight: 0, dead: 0 });
      clock.advance(29_000);
      expect(await b.queue.receive(10, 60, 0)).toEqual([]);
      clock.advance(1_000);
      expect((await b.queue.receive(10, 60, 0)).map((r) => r.message)).toEqual([{ jobId: 'later', key: 'k-later' }]);
    } finally {
      await b.close();
    }
  });

  it('a process killed right after enqueueing a deferred job loses neither the record nor the delayed message', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/embedded-delayed-sender.ts'), dataDir, '2'], { timeout: 60_000 })
      .catch((err: { stdout?: string; signal?: string }) => {
        // Killed by its own SIGKILL, as intended: what it printed before is all we need.
        if (err.signal !== 'SIGKILL') throw err;
        return { stdout: err.stdout ?? '' };
      });
    const job = JSON.parse(stdout) as { id: string; key: string };
    const b = openEmbeddedBackend({ dataDir });
    try {
      expect(await b.store.get(job.id)).toMatchObject({ id: job.id, status: 'queued' });
      expect(await b.queue.depth()).toEqual({ queued: 1, inFlight: 0, dead: 0 });
      let got: Awaited<ReturnType<typeof b.queue.receive>> = [];
      const deadline = Date.now() + 10_000;
      while (got.length === 0 && Date.now() < deadline) got = await b.queue.receive(10, 60, 1);
      expect(got.map((r) => r.message)).toEqual([{ jobId: job.id, key: job.key }]);
    } finally {
      await b.close();
    }
  });

  it('a restart releases at once what a killed process held (message, key lease), but not what a live one holds', async () => {
    const b = openEmbeddedBackend({ dataDir });
    const holders: ChildProcess[] = [];
    const hold = async (): Promise<{ child: ChildProcess; held: { jobId: string; key: string } }> => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/embedded-holder.ts'), dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
      holders.push(child);
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      return { child, held: JSON.parse(line) as { jobId: string; key: string } };
    };
    try {
      await b.queue.send([{ jobId: 'j-dead', key: 'k-dead' }]);
      const dead = await hold();
      await b.queue.send([{ jobId: 'j-live', key: 'k-live' }]);
      const live = await hold();
      expect([dead.held.jobId, live.held.jobId]).toEqual(['j-dead', 'j-live']);
      dead.child.kill('SIGKILL');
      await once(dead.child, 'exit');
      expect(await b.queue.depth()).toEqual({ queued: 0, inFlight: 2, dead: 0 });
      expect(await b.store.claimKey('k-dead', 'me', 60)).toBe(false);

      expect(await b.recoverAbandoned!()).toEqual({ messages: 1, leases: 1 });
      const again = await b.queue.receive(10, 60, 0);
      expect(again.map((r) => r.message)).toEqual([{ jobId: 'j-dead', key: 'k-dead' }]);
      expect(again[0]!.receiveCount).toBe(2);
      expect(await b.store.claimKey('k-dead', 'me', 60)).toBe(true);
      // The live process keeps its message and its lease.
      expect(await b.store.claimKey('k-live', 'me', 60)).toBe(false);
      expect(await b.recoverAbandoned!()).toEqual({ messages: 0, leases: 0 });
    } finally {
      for (const c of holders) c.kill('SIGKILL');
      await b.close();
    }
  }, 60_000);

  it('group commit: a failing write fails only its caller; concurrent sends all land and are durable when they resolve', async () => {
    const db = new Database(join(dataDir, 'group.db'));
    try {
      db.exec('CREATE TABLE t (v INTEGER UNIQUE)');
      const writes = new GroupCommit(db);
      const insert = db.prepare<[number]>('INSERT INTO t (v) VALUES (?)');
      const results = await Promise.allSettled([1, 2, 2, 3].map((v) => writes.submit(() => insert.run(v).changes)));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(db.prepare('SELECT v FROM t ORDER BY v').all()).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }]);
      // Concurrent sends through the backend all land, each exactly once, and resolve only once durable.
      const b = openEmbeddedBackend({ dataDir });
      try {
        await Promise.all(Array.from({ length: 50 }, (_, i) => b.queue.send([{ jobId: `g${i}`, key: `k${i}` }])));
        const other = openEmbeddedBackend({ dataDir });
        try {
          expect((await other.queue.depth()).queued).toBe(50);
        } finally {
          await other.close();
        }
      } finally {
        await b.close();
      }
    } finally {
      db.close();
    }
  });

  it('uses WAL and records the schema version', async () => {
    await openEmbeddedBackend({ dataDir }).close();
    const db = new Database(join(dataDir, DATABASE_FILE), { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it('deliveries stay bounded on disk although they are pruned only every 32 inserts of a registry', async () => {
    const backend = openEmbeddedBackend({ dataDir });
    const at = new Date().toISOString();
    for (let i = 0; i < 1000; i++) await backend.control.recordDelivery({ id: `d${i}`, at, registry: 'src', status: 202, events: 1, jobsCreated: 1, jobIds: [], ignored: [] });
    const listed = await backend.control.listDeliveries('src', 1000);
    await backend.close();
    expect(listed).toHaveLength(DELIVERY_LIMITS.perRegistry);
    expect(listed[0]!.id).toBe('d999');
    const db = new Database(join(dataDir, DATABASE_FILE), { readonly: true });
    try {
      const { n } = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM deliveries WHERE registry = 'src'").get()!;
      expect(n).toBeGreaterThanOrEqual(DELIVERY_LIMITS.perRegistry);
      expect(n).toBeLessThan(DELIVERY_LIMITS.perRegistry + 32);
    } finally {
      db.close();
    }
  });

  it('refuses a database written by a newer ferry, with a clear error', async () => {
    await openEmbeddedBackend({ dataDir }).close();
    const db = new Database(join(dataDir, DATABASE_FILE));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openEmbeddedBackend({ dataDir })).toThrow(/ferry\.db.*newer than this ferry understands/);
  });

  it('a stale receipt (from before a redelivery) neither acks nor dead-letters the message', async () => {
    const clock = createManualClock();
    const b = openEmbeddedBackend({ dataDir, clock });
    try {
      await b.queue.send([{ jobId: 'j1', key: 'k1' }]);
      const [first] = await b.queue.receive(1, 10, 0);
      clock.advance(11_000);
      const [second] = await b.queue.receive(1, 10, 0);
      await b.queue.ack(first!.receipt);
      await b.queue.deadLetter(first!.receipt, first!.message, 'stale');
      await b.queue.retryLater(first!.receipt, 0);
      expect(await b.queue.depth()).toEqual({ queued: 0, inFlight: 1, dead: 0 });
      await b.queue.ack(second!.receipt);
      expect(await b.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
    } finally {
      await b.close();
    }
  });

  it('two processes receiving from one file each get distinct messages, all delivered once', async () => {
    const b = openEmbeddedBackend({ dataDir });
    const ids = Array.from({ length: 200 }, (_, i) => `job-${i}`);
    try {
      await b.queue.send(ids.map((jobId) => ({ jobId, key: jobId })));
      const child = () => run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/embedded-receiver.ts'), dataDir], { timeout: 60_000 });
      const [x, y] = await Promise.all([child(), child()]);
      const gotX = JSON.parse(x.stdout) as string[];
      const gotY = JSON.parse(y.stdout) as string[];
      const all = [...gotX, ...gotY];
      expect(new Set(all).size).toBe(all.length);
      expect(all.sort()).toEqual([...ids].sort());
      expect(await b.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
    } finally {
      await b.close();
    }
  });
});
