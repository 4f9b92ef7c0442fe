// ControlStore on SQLite: one row per policy, one per delivery (pruned per registry to
// DELIVERY_LIMITS in the insert's transaction). Deliveries are recorded on every webhook
// request, so they ride in the intake's group commit (group-commit.ts) and prune cheaply:
// by count every PRUNE_EVERY inserts of a registry (the prune walks the registry's newest
// rows: at every insert it doubled the cost of recording a delivery), by age at most once a
// minute. Between prunes a registry holds up to PRUNE_EVERY - 1 rows more; reads never show them.
import type { Database } from 'better-sqlite3';
import { DELIVERY_LIMITS, type ControlStore, type Delivery, type PolicyState } from '../../jobs/control-ports.js';
import type { Clock } from '../../jobs/ports.js';
import type { GroupCommit } from './group-commit.js';

const AGE_PRUNE_EVERY_MS = 60_000;
/** Inserts of one registry between prunes by count (the first insert after start prunes too). */
const PRUNE_EVERY = 32;

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
  /** Inserts per registry since its last prune by count. */
  const unpruned = new Map<string, number>();
  const insert = (d: Delivery): void => {
    insertDelivery.run(d.registry, Date.parse(d.at), JSON.stringify(d));
    const since = unpruned.get(d.registry);
    if (since === undefined || since + 1 >= PRUNE_EVERY) {
      pruneCount.run(d.registry, d.registry, DELIVERY_LIMITS.perRegistry);
      unpruned.set(d.registry, 0);
    } else {
      unpruned.set(d.registry, since + 1);
    }
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
      return selectDeliveries.all(registry, since, Math.min(limit, DELIVERY_LIMITS.perRegistry)).map((r) => JSON.parse(r.body) as Delivery);
    },
  };
}
