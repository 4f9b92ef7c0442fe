// Validation of admin API inputs (query strings and JSON bodies). Pure: the routes turn
// an AdminInputError into a 400 with its detail.
import * as z from 'zod';
import { JOB_STATUSES, type JobStatus } from '../../../shared/jobs/model.js';
import type { JobQuery, ReplaySelector } from '../../../shared/jobs/ports.js';

export { JOB_STATUSES };

export class AdminInputError extends Error {
  override readonly name = 'AdminInputError';
}

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 1000;

function issues(err: z.ZodError): string {
  return err.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

const jobsQuery = z.strictObject({
  status: z.enum(JOB_STATUSES as [JobStatus, ...JobStatus[]]).optional(),
  policy: z.string().min(1).optional(),
  repository: z.string().min(1).optional(),
  limit: z.string().regex(/^\d+$/, 'must be a positive integer').transform(Number)
    .pipe(z.number().int().min(1).max(MAX_LIST_LIMIT)).optional(),
  cursor: z.string().min(1).optional(),
});

/** GET /api/jobs query -> JobQuery. Unknown parameters are errors, so typos do not silently list everything. */
export function parseJobsQuery(query: Record<string, string | undefined>): JobQuery {
  const r = jobsQuery.safeParse(query);
  if (!r.success) throw new AdminInputError(issues(r.error));
  const q: JobQuery = { limit: r.data.limit ?? DEFAULT_LIST_LIMIT };
  if (r.data.status) q.status = r.data.status;
  if (r.data.policy) q.policy = r.data.policy;
  if (r.data.repository) q.repository = r.data.repository;
  if (r.data.cursor) q.cursor = r.data.cursor;
  return q;
}

const replayBody = z.union([
  z.strictObject({ all: z.literal(true) }),
  z.strictObject({ ids: z.array(z.string().min(1)).min(1) }),
  z.strictObject({ repository: z.string().min(1) }),
]);

/** POST /api/dlq/replay body: exactly one of {all:true}, {ids:[...]}, {repository}. */
export function parseReplayBody(body: unknown): ReplaySelector {
  const r = replayBody.safeParse(body);
  if (!r.success) throw new AdminInputError('body must be one of {"all":true}, {"ids":["<job id>",...]} or {"repository":"<name>"}');
  const b = r.data;
  if ('all' in b) return { all: true };
  if ('ids' in b) return { jobIds: b.ids };
  return { repository: b.repository };
}

const deliveriesQuery = z.strictObject({
  registry: z.string().min(1).optional(),
  limit: z.string().regex(/^\d+$/, 'must be a positive integer').transform(Number).pipe(z.number().int().min(1).max(1000)).optional(),
});

/** GET /api/deliveries query. */
export function parseDeliveriesQuery(query: Record<string, string | undefined>): { registry?: string; limit?: number } {
  const r = deliveriesQuery.safeParse(query);
  if (!r.success) throw new AdminInputError(issues(r.error));
  return { ...(r.data.registry ? { registry: r.data.registry } : {}), ...(r.data.limit ? { limit: r.data.limit } : {}) };
}

const syncBody = z.strictObject({ policy: z.string().min(1).optional() });

/** POST /api/sync body: {} or {policy}. */
export function parseSyncBody(body: unknown): { policy?: string } {
  const r = syncBody.safeParse(body);
  if (!r.success) throw new AdminInputError(issues(r.error));
  return r.data.policy ? { policy: r.data.policy } : {};
}
