// The dead-letter queue as admins read it: each entry joined with its job record, so the
// list shows what failed and why without a second lookup. Shared by GET /api/dlq,
// `ferry dlq list` and the Lambda admin function.
import type { Job } from './model.js';
import type { Backend } from './ports.js';

export interface DeadLetterView {
  /** Dead-letter entry id. */
  id: string;
  jobId: string;
  key: string;
  reason?: string;
  deadAt?: string;
  /** The job record, when the store still has it. */
  job?: Job;
}

export async function describeDeadLetters(backend: Backend, limit = 1000): Promise<DeadLetterView[]> {
  const dead = await backend.queue.listDead(limit);
  const out: DeadLetterView[] = [];
  for (const d of dead) {
    const view: DeadLetterView = { id: d.id, jobId: d.message.jobId, key: d.message.key };
    if (d.reason !== undefined) view.reason = d.reason;
    if (d.deadAt !== undefined) view.deadAt = d.deadAt;
    const job = await backend.store.get(d.message.jobId);
    if (job) view.job = job;
    out.push(view);
  }
  return out;
}
