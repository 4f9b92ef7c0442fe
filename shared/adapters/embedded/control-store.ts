// ControlStore on SQLite: one row per policy, one per delivery (pruned per registry to
// DELIVERY_LIMITS on every insert, in the insert's transaction).
import type { Database } from 'better-sqlite3';
import { DELIVERY_LIMITS, type ControlStore, type Delivery, type PolicyState } from '../../jobs/control-ports.js';
import type { Clock } from '../../jobs/ports.js';

export function createSqliteControlStore(db: Database, clock: Clock): ControlStore {
  const selectPolicy = db.prepare<[string], { body: string }>('SELECT body FROM policy_state WHERE name = ?');
  const upsertPolicy = db.prepare<[string, string]>('INSERT INTO policy_state (name, body) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body');
  const insertDelivery = db.prepare<[string, number, string]>('INSERT INTO deliveries (registry, at, body) VALUES (?, ?, ?)');
  const pruneCount = db.prepare<[string, string, number]>(
    'DELETE FROM deliveries WHERE registry = ? AND seq NOT IN (SELECT seq FROM deliveries WHERE registry = ? ORDER BY seq DESC LIMIT ?)',
  );
  const pruneAge = db.prepare<[number]>('DELETE FROM deliveries WHERE at < ?');
  const selectDeliveries = db.prepare<[string, number, number], { body: string }>('SELECT body FROM deliveries WHERE registry = ? AND at >= ? ORDER BY seq DESC LIMIT ?');

  const record = db.transaction((d: Delivery) => {
    insertDelivery.run(d.registry, Date.parse(d.at), JSON.stringify(d));
    pruneCount.run(d.registry, d.registry, DELIVERY_LIMITS.perRegistry);
    pruneAge.run(clock.now().getTime() - DELIVERY_LIMITS.maxAgeMs);
  });

  return {
    async getPolicy(name) {
      const row = selectPolicy.get(name);
      return row ? (JSON.parse(row.body) as PolicyState) : undefined;
    },
    async putPolicy(state) {
      upsertPolicy.run(state.name, JSON.stringify(state));
    },
    async recordDelivery(delivery) {
      record.immediate(delivery);
    },
    async listDeliveries(registry, limit) {
      const since = clock.now().getTime() - DELIVERY_LIMITS.maxAgeMs;
      return selectDeliveries.all(registry, since, limit).map((r) => JSON.parse(r.body) as Delivery);
    },
  };
}
