// RateStore on SQLite: the processes sharing the file (ferry serve, ferry sync --wait) share
// each registry's back-off and request schedule. Each change is one IMMEDIATE transaction.
import type { Database } from 'better-sqlite3';
import type { RateState, RateStore } from '../../registry/rate-control.js';

export function createSqliteRateStore(db: Database): RateStore {
  const select = db.prepare<[string], { state: string; tat: number }>('SELECT state, tat FROM rate_state WHERE registry = ?');
  const upsert = db.prepare<[string, string, number]>(
    'INSERT INTO rate_state (registry, state, tat) VALUES (?, ?, ?) ON CONFLICT (registry) DO UPDATE SET state = excluded.state, tat = excluded.tat',
  );
  const read = (registry: string): { state: RateState; tat: number } => {
    const row = select.get(registry);
    return row ? { state: JSON.parse(row.state) as RateState, tat: row.tat } : { state: {}, tat: 0 };
  };
  const update = db.transaction((registry: string, change: (state: RateState) => RateState): RateState => {
    const current = read(registry);
    const state = change(current.state);
    upsert.run(registry, JSON.stringify(state), current.tat);
    return state;
  });
  const reserve = db.transaction((registry: string, count: number, intervalMs: number, now: number): number => {
    const current = read(registry);
    const first = Math.max(current.tat, now);
    upsert.run(registry, JSON.stringify(current.state), Math.ceil(first + count * intervalMs));
    return first;
  });
  return {
    async load(registry) {
      return read(registry).state;
    },
    async update(registry, change) {
      return update.immediate(registry, change);
    },
    async reserve(registry, count, intervalMs, now) {
      return reserve.immediate(registry, count, intervalMs, now);
    },
  };
}
