// Lambda: the admin API for a deployed stack, invoked directly (no URL): IAM decides who
// may call it (lambda:InvokeFunction on this function). Requests are JSON objects:
//   {action:"jobs", status?, policy?, repository?, limit?, cursor?}   -> {jobs, cursor?}
//   {action:"job", id}                                               -> {job}
//   {action:"dlq", limit?}                                           -> {deadLetters}
//   {action:"replay", all:true | ids:[...] | repository, by?}        -> {replayed}
//   {action:"sync", policy?}                                         -> sync result
//   {action:"cancel"|"retry", ids:[...], by?}                        -> {results:[{id, ok, result|detail}]}
//   {action:"policies"}                                              -> {policies}
//   {action:"pause"|"resume", policy, by?}                           -> policy state
//   {action:"deliveries", registry?, limit?}                         -> {deliveries}
// Bad requests and unknown ids answer {error, detail} (the invoke itself succeeds);
// infrastructure failures throw, so the caller sees a function error.
import * as z from 'zod';
import type { Job, JobStatus } from '../shared/jobs/model.js';
import { InvalidCursorError, type Backend, type JobPage, type JobQuery, type ReplaySelector } from '../shared/jobs/ports.js';
import { describeDeadLetters, type DeadLetterView } from '../shared/jobs/dead-letters.js';
import { replayDeadJobs } from '../shared/jobs/replay.js';
import type { Context } from 'aws-lambda';
import { createControlPlane, isUnknownName, type ControlPlane, type PolicyView } from '../shared/control/control-plane.js';
import type { Delivery, PolicyState } from '../shared/jobs/control-ports.js';
import { lazy, openRuntime, type Runtime } from './lib/runtime.js';
import type { SyncFn, SyncPoliciesResult } from '../shared/reconcile/sync.js';
import { UnknownPolicyError } from '../shared/reconcile/walk.js';
import { createSync } from './lib/sync.js';

const STATUSES = ['queued', 'running', 'succeeded', 'skipped', 'failed', 'dead', 'paused', 'cancelled'] as const satisfies readonly JobStatus[];
const MAX_LIMIT = 1000;

const requestSchema = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('jobs'),
    status: z.enum(STATUSES).optional(),
    policy: z.string().min(1).optional(),
    repository: z.string().min(1).optional(),
    since: z.string().min(1).optional(),
    until: z.string().min(1).optional(),
    limit: z.number().int().min(1).max(MAX_LIMIT).optional(),
    cursor: z.string().min(1).optional(),
  }),
  z.strictObject({ action: z.literal('job'), id: z.string().min(1) }),
  z.strictObject({ action: z.literal('dlq'), limit: z.number().int().min(1).max(MAX_LIMIT).optional() }),
  z.strictObject({
    action: z.literal('replay'),
    all: z.literal(true).optional(),
    ids: z.array(z.string().min(1)).min(1).optional(),
    repository: z.string().min(1).optional(),
    by: z.string().min(1).max(200).optional(),
  }).refine((r) => [r.all, r.ids, r.repository].filter((v) => v !== undefined).length === 1, {
    message: 'replay needs exactly one of all: true, ids: [...], repository',
  }),
  z.strictObject({ action: z.literal('sync'), policy: z.string().min(1).optional() }),
  z.strictObject({ action: z.enum(['cancel', 'retry']), ids: z.array(z.string().min(1)).min(1).max(MAX_LIMIT), by: z.string().min(1).max(200).optional() }),
  z.strictObject({ action: z.literal('policies') }),
  z.strictObject({ action: z.enum(['pause', 'resume']), policy: z.string().min(1), by: z.string().min(1).max(200).optional() }),
  z.strictObject({ action: z.literal('deliveries'), registry: z.string().min(1).optional(), limit: z.number().int().min(1).max(MAX_LIMIT).optional() }),
]);

export type AdminRequest = z.input<typeof requestSchema>;

export type AdminResponse =
  | JobPage
  | { job: Job }
  | { deadLetters: DeadLetterView[] }
  | { replayed: string[] }
  | SyncPoliciesResult
  | { results: Array<{ id: string; ok: boolean; result?: string; status?: string; detail?: string }> }
  | { policies: PolicyView[] }
  | PolicyState
  | { deliveries: Delivery[] }
  | { error: string; detail?: string };

export interface AdminApp {
  backend: Backend;
  sync: SyncFn;
  control: ControlPlane;
}

export function createAdminApp(runtime: Runtime): AdminApp {
  return { backend: runtime.backend, sync: createSync(runtime), control: createControlPlane({ config: runtime.config, backend: runtime.backend, logger: runtime.logger }) };
}

/** A sync stops walking this long before the invocation ends, so its summary is still returned. */
const SYNC_DEADLINE_MARGIN_MS = 15_000;

export async function handleAdmin(app: AdminApp, event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<AdminResponse> {
  const parsed = requestSchema.safeParse(event);
  if (!parsed.success) {
    return { error: 'bad request', detail: parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ') };
  }
  const request = parsed.data;
  const { backend } = app;
  switch (request.action) {
    case 'jobs': {
      const { action: _action, ...rest } = request;
      const query: JobQuery = { limit: 50, ...rest };
      try {
        return await backend.store.list(query);
      } catch (err) {
        if (err instanceof InvalidCursorError) return { error: 'bad request', detail: err.message };
        throw err;
      }
    }
    case 'job': {
      const job = await backend.store.get(request.id);
      return job ? { job } : { error: 'not found', detail: `no job ${request.id}` };
    }
    case 'dlq': {
      const deadLetters = await describeDeadLetters(backend, request.limit ?? MAX_LIMIT);
      return { deadLetters };
    }
    case 'replay': {
      const selector: ReplaySelector = request.all ? { all: true } : request.ids ? { jobIds: request.ids } : { repository: request.repository! };
      const replayed = await replayDeadJobs({ queue: backend.queue, store: backend.store }, selector, request.by ?? 'admin-function');
      return { replayed };
    }
    case 'sync': {
      const remaining = context?.getRemainingTimeInMillis();
      const signal = remaining === undefined ? undefined : AbortSignal.timeout(Math.max(1, remaining - SYNC_DEADLINE_MARGIN_MS));
      try {
        return await app.sync({ policy: request.policy, trigger: 'admin-function', signal });
      } catch (err) {
        if (err instanceof UnknownPolicyError) return { error: 'unknown policy', detail: err.message };
        throw err;
      }
    }
    case 'cancel':
    case 'retry': {
      const by = request.by ?? 'admin-function';
      const results = [];
      for (const id of request.ids) {
        const r = request.action === 'cancel' ? await app.control.cancel(id, by) : await app.control.retry(id, by);
        results.push(r.ok ? { id, ok: true, result: r.result, status: r.job.status } : { id, ok: false, detail: r.detail, ...(r.job ? { status: r.job.status } : {}) });
      }
      return { results };
    }
    case 'policies':
      return { policies: await app.control.policies() };
    case 'pause':
    case 'resume': {
      const by = request.by ?? 'admin-function';
      try {
        return request.action === 'pause' ? await app.control.pause(request.policy, by) : await app.control.resume(request.policy, by);
      } catch (err) {
        if (isUnknownName(err)) return { error: 'unknown policy', detail: err.message };
        throw err;
      }
    }
    case 'deliveries':
      try {
        return { deliveries: await app.control.deliveries(request.registry, request.limit) };
      } catch (err) {
        if (isUnknownName(err)) return { error: 'unknown registry', detail: err.message };
        throw err;
      }
  }
}

const app = lazy(async () => createAdminApp(await openRuntime({ name: 'admin', needs: { webhookSecrets: false, registryCredentials: true } })));

export async function handler(event: unknown, context?: Context): Promise<AdminResponse> {
  return handleAdmin(await app.get(), event, context);
}
