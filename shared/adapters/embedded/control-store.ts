// ControlStore on SQLite: one row per policy, one per delivery (pruned per registry to
// DELIVERY_LIMITS in the insert's transaction). Deliveries are recorded on every webhook
// request, so they ride in the intake's group commit (group-commit.ts) and prune cheaply:
// by the (registry, seq) index, and by age at most once a minute.
import type { Database } from 'better-sqlite3';
import { DELIVERY_LIMITS, type ControlStore, type Delivery, type PolicyState } from '../../jobs/control-ports.js';
import type { Clock } from '../../jobs/ports.js';
import type { GroupCommit } from './group-commit.js';

const AGE_PRUNE_EVERY_MS = 60_000;

export function createSqliteControlStore(db: Database, clock: Clock, writes?: GroupCommit): ControlStore {
  const selectPolicy = db.prepare<[string], { body: string }>('SELECT body FROM policy_state WHERE name = ?');
  const upsertPolicy = db.prepare<[string, string]>('INSERT INTO policy_state (name, body) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body');
  const insertDelivery = db.prepare<[string, number, string]>('INSERT INTO deliveries (registry, at, body) VALUES (?, ?, ?)');
  // Everything of the registry at or below the newest row it must lose (none when it has fewer).
  const pruneCount = db.prepare<[string, string, number]>(
    'DELETE FROM deliveries WHERE registry = ? AND seq <= (SELECT seq FROM deliveries WHERE registry = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)',
  );
  const pruneAge = db.prepare<[number]>('DELETE FROM deliveries WHERE at < ?');
  const selectDeliveries = db.prepare<[string, number, number], { body: string }>('SELECT body FROM deliveries WHERE registry = ? AND at >= ? ORDER BY seq DESC LIMIT ?');

  let agePrunedAt = Number.NEGATIVE_INFINITY;
  const insert = (d: Delivery): void => {
    insertDelivery.run(d.registry, Date.parse(d.at), JSON.stringify(d));
    pruneCount.run(d.registry, d.registry, DELIVERY_LIMITS.perRegistry);
    const now = clock.now().getTime();
    if (now - agePrunedAt >= AGE_PRUNE_EVERY_MS) {
      pruneAge.run(now - DELIVERY_LIMITS.maxAgeMs);
      agePrunedAt = now;
    }
  };
  const record = db.transaction(insert);

  return {
    async getPolicy(name) {
      const row = selectPolicy.get(name);
      return row ? (JSON.parse(row.body) as PolicyState) : undefined;
    },
    async putPolicy(state) {
      upsertPolicy.run(state.name, JSON.stringify(state));
    },
    async recordDelivery(delivery) {
      if (writes) await writes.submit(() => insert(delivery));
      else record.immediate(delivery);
    },
    async listDeliveries(registry, limit) {
      const since = clock.now().getTime() - DELIVERY_LIMITS.maxAgeMs;
      return selectDeliveries.all(registry, since, limit).map((r) => JSON.parse(r.body) as Delivery);
    },
  };
}
