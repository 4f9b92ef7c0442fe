// JobQueue on SQLite with SQS semantics: receiving hides a message for the visibility
// timeout and hands out a fresh receipt; only the latest receipt can ack, retry or
// dead-letter it (older receipts are silently ignored, like a late duplicate).
import type { Database } from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import type { JobMessage } from '../../jobs/model.js';
import type { Clock, DeadLetter, JobQueue, QueueDepth, ReceivedMessage, ReplaySelector } from '../../jobs/ports.js';
import { identityAfter, isDeadHere, selfIdentity } from '../../jobs/process-identity.js';
import type { GroupCommit } from './group-commit.js';
import { notifySent, waitForSend } from './wakeup.js';

interface MessageRow { id: number; body: string; receive_count: number }
interface DeadRow { id: number; job_id: string; body: string; reason: string | null; dead_at: number }

/** How often a long poll looks for messages another process sent (same-process sends wake it at once). */
const POLL_INTERVAL_MS = 200;

function parseReceipt(receipt: string): { id: number; receipt: string } | undefined {
  const dot = receipt.indexOf('.');
  const id = Number(receipt.slice(0, dot));
  return dot > 0 && Number.isSafeInteger(id) ? { id, receipt } : undefined;
}

function parseBody(body: string): JobMessage {
  const m = JSON.parse(body) as JobMessage;
  return { jobId: m.jobId, key: m.key };
}

/** `writes`: group commit shared with the store (webhook intake); without it each send is its own transaction. */
export function createSqliteQueue(db: Database, clock: Clock, writes?: GroupCommit): JobQueue & { close(): void; releaseAbandoned(): number } {
  const file = db.name;
  let closed = false;
  /** Bumped by interrupt(): a long poll that sees it change returns. */
  let interrupts = 0;
  const nowMs = () => clock.now().getTime();

  const insert = db.prepare<[string, string, number, number]>('INSERT INTO messages (job_id, body, visible_at, sent_at) VALUES (?, ?, ?, ?)');
  const pickVisible = db.prepare<[number, number], MessageRow>('SELECT id, body, receive_count FROM messages WHERE visible_at <= ? ORDER BY visible_at, id LIMIT ?');
  const markReceived = db.prepare<[string, number, number]>('UPDATE messages SET receipt = ?, visible_at = ?, receive_count = receive_count + 1 WHERE id = ?');
  const deleteByReceipt = db.prepare<[number, string]>('DELETE FROM messages WHERE id = ? AND receipt = ?');
  const setVisible = db.prepare<[number, number, string]>('UPDATE messages SET visible_at = ? WHERE id = ? AND receipt = ?');
  const putBack = db.prepare<[number, number, string]>('UPDATE messages SET visible_at = ?, receive_count = max(receive_count - 1, 0) WHERE id = ? AND receipt = ?');
  const selectByReceipt = db.prepare<[number, string], { receive_count: number }>('SELECT receive_count FROM messages WHERE id = ? AND receipt = ?');
  const insertDead = db.prepare<[string, string, string, number, number]>('INSERT INTO dead_letters (job_id, body, reason, receive_count, dead_at) VALUES (?, ?, ?, ?, ?)');
  const listDeadRows = db.prepare<[number], DeadRow>('SELECT id, job_id, body, reason, dead_at FROM dead_letters ORDER BY id LIMIT ?');
  const deleteDead = db.prepare<[number]>('DELETE FROM dead_letters WHERE id = ?');
  const countQueued = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM messages WHERE receipt IS NULL OR visible_at <= ?');
  const countInFlight = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM messages WHERE receipt IS NOT NULL AND visible_at > ?');
  const countDead = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM dead_letters');
  const selectHeld = db.prepare<[number], { id: number; receipt: string }>('SELECT id, receipt FROM messages WHERE receipt IS NOT NULL AND visible_at > ?');

  const insertAll = (messages: JobMessage[], visibleAt: number, sentAt: number) => {
    for (const m of messages) insert.run(m.jobId, JSON.stringify({ jobId: m.jobId, key: m.key }), visibleAt, sentAt);
  };
  const sendAll = db.transaction(insertAll);

  const receiveNow = db.transaction((max: number, visibilityMs: number): ReceivedMessage[] => {
    const now = nowMs();
    const rows = pickVisible.all(now, max);
    return rows.map((row) => {
      const receipt = `${row.id}.${randomBytes(12).toString('base64url')}~${selfIdentity()}`;
      markReceived.run(receipt, now + visibilityMs, row.id);
      return { message: parseBody(row.body), receipt, receiveCount: row.receive_count + 1 };
    });
  });

  const moveToDead = db.transaction((id: number, receipt: string, message: JobMessage, reason: string): void => {
    const row = selectByReceipt.get(id, receipt);
    if (!row) return; // stale receipt: another delivery owns the message now
    deleteByReceipt.run(id, receipt);
    insertDead.run(message.jobId, JSON.stringify({ jobId: message.jobId, key: message.key }), reason, row.receive_count, nowMs());
  });

  const moveBack = db.transaction((rows: DeadRow[]): DeadRow[] => {
    const now = nowMs();
    // A row another process replayed meanwhile is gone: skip it rather than send it twice.
    const moved = rows.filter((row) => deleteDead.run(row.id).changes === 1);
    for (const row of moved) insert.run(row.job_id, row.body, now, now);
    return moved;
  });

  function assertOpen(): void {
    if (closed) throw new Error('job queue is closed');
  }

  return {
    async send(messages, delaySeconds = 0) {
      assertOpen();
      if (messages.length === 0) return;
      const now = nowMs();
      // Committed (WAL, grouped with other writes of this turn) before this resolves: a
      // delayed message is a row whose visible_at lies ahead, so it survives a restart or a
      // crash like any other.
      const visibleAt = now + Math.max(0, delaySeconds) * 1000;
      await (writes ? writes.submit(() => insertAll(messages, visibleAt, now)) : sendAll.immediate(messages, visibleAt, now));
      // Delayed messages are found by the receivers' polling once due; waking them now
      // would only make them look too early.
      if (!(delaySeconds > 0)) notifySent(file);
    },

    async receive(max, visibilitySeconds, waitSeconds = 0) {
      assertOpen();
      // Taken before the yield below: an interrupt() arriving during it still ends this poll
      // (a pool draining right after its last job otherwise waited out the whole long poll).
      const generation = interrupts;
      // SQLite calls are synchronous: without a real yield, a worker loop whose messages are
      // all handled without I/O (duplicates, deferrals) would starve timers and sockets.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (max < 1) return [];
      if (interrupts !== generation) return [];
      const deadline = Date.now() + Math.max(0, waitSeconds) * 1000;
      for (;;) {
        const got = receiveNow.immediate(max, visibilitySeconds * 1000);
        const left = deadline - Date.now();
        if (got.length > 0 || left <= 0 || closed) return got;
        await waitForSend(file, Math.min(left, POLL_INTERVAL_MS));
        if (closed || interrupts !== generation) return [];
      }
    },

    interrupt() {
      interrupts += 1;
      notifySent(file);
    },

    async ack(receipt) {
      assertOpen();
      const r = parseReceipt(receipt);
      if (r) deleteByReceipt.run(r.id, r.receipt);
    },

    async retryLater(receipt, delaySeconds) {
      assertOpen();
      const r = parseReceipt(receipt);
      if (!r) return;
      setVisible.run(nowMs() + Math.max(0, delaySeconds) * 1000, r.id, r.receipt);
      if (delaySeconds <= 0) notifySent(file);
    },

    async requeue(receipt, _message, delaySeconds) {
      assertOpen();
      const r = parseReceipt(receipt);
      if (!r) return;
      putBack.run(nowMs() + Math.max(0, delaySeconds) * 1000, r.id, r.receipt);
      if (delaySeconds <= 0) notifySent(file);
    },

    async deadLetter(receipt, message, reason) {
      assertOpen();
      const r = parseReceipt(receipt);
      if (r) moveToDead.immediate(r.id, r.receipt, message, reason);
    },

    async listDead(limit) {
      assertOpen();
      return listDeadRows.all(limit ?? -1).map((row): DeadLetter => ({
        id: String(row.id),
        message: parseBody(row.body),
        ...(row.reason !== null ? { reason: row.reason } : {}),
        deadAt: new Date(row.dead_at).toISOString(),
      }));
    },

    async replayDead(selector: ReplaySelector, resolveRepository) {
      assertOpen();
      if (!selector.all && !selector.jobIds && selector.repository === undefined) {
        throw new Error('replay needs a selector: all, jobIds or repository');
      }
      if (selector.repository !== undefined && !selector.all && !resolveRepository) {
        throw new Error('replay by repository needs a resolveRepository callback');
      }
      const wanted = selector.jobIds ? new Set(selector.jobIds) : undefined;
      const chosen: DeadRow[] = [];
      for (const row of listDeadRows.all(-1)) {
        if (selector.all) chosen.push(row);
        else if (wanted?.has(row.job_id)) chosen.push(row);
        else if (selector.repository !== undefined && (await resolveRepository!(row.job_id)) === selector.repository) chosen.push(row);
      }
      const moved = moveBack.immediate(chosen);
      if (moved.length > 0) notifySent(file);
      return [...new Set(moved.map((r) => r.job_id))];
    },

    async depth(): Promise<QueueDepth> {
      assertOpen();
      const now = nowMs();
      return { queued: countQueued.get(now)!.n, inFlight: countInFlight.get(now)!.n, dead: countDead.get()!.n };
    },

    /**
     * Makes the messages held by processes of this host that are gone (kill -9, OOM) visible
     * at once, as if their visibility had run out; the delivery still counts (as on SQS).
     */
    releaseAbandoned(): number {
      assertOpen();
      const now = nowMs();
      let released = 0;
      for (const row of selectHeld.all(now)) {
        const holder = identityAfter(row.receipt, '~');
        if (holder && isDeadHere(holder)) released += setVisible.run(now, row.id, row.receipt).changes;
      }
      if (released > 0) notifySent(file);
      return released;
    },

    close() {
      closed = true;
    },
  };
}
