// Group commit for the embedded backend. Each SQLite commit costs a WAL append and the
// write lock; webhook intake used to pay two per request (job records, then messages).
// Writes submitted during one turn of the event loop (by concurrent requests) run together
// in one IMMEDIATE transaction at the end of the turn; each caller's promise settles only
// after that transaction committed, so "2xx only once durable" still holds.
import type { Database, Transaction } from 'better-sqlite3';

interface Pending {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  private pending: Pending[] = [];
  private scheduled = false;
  private readonly runAll: Transaction<(batch: Pending[]) => unknown[]>;
  private readonly runOne: Transaction<(work: () => unknown) => unknown>;

  constructor(db: Database) {
    this.runAll = db.transaction((batch: Pending[]) => batch.map((p) => p.work()));
    this.runOne = db.transaction((work: () => unknown) => work());
  }

  /** Runs `work` (synchronous statements) inside the next group transaction. */
  submit<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    if (batch.length === 0) return;
    let results: unknown[];
    try {
      results = this.runAll.immediate(batch);
    } catch {
      // One failing piece of work rolled back the whole group: run each alone, so only the
      // caller whose work fails sees the error (a busy database fails them all again).
      for (const p of batch) {
        try {
          p.resolve(this.runOne.immediate(p.work));
        } catch (err) {
          p.reject(err);
        }
      }
      return;
    }
    for (const [i, p] of batch.entries()) p.resolve(results[i]);
  }
}
