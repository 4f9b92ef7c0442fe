// Lambda: scheduled reconcile. One EventBridge rule per policy with a `schedule` invokes
// this with {"policy": "<name>"}; the reconcile engine lists the source, compares with the
// destinations and enqueues jobs for what differs (initial sync + drift repair).
import * as z from 'zod';
import type { Context } from 'aws-lambda';
import { lazy, openRuntime } from './lib/runtime.js';
import type { SyncFn, SyncPoliciesResult } from '../shared/reconcile/sync.js';
import { UnknownPolicyError } from '../shared/reconcile/walk.js';
import { createSync } from './lib/sync.js';

const eventSchema = z.object({ policy: z.string().min(1) });

export class ReconcileRequestError extends Error {
  override readonly name = 'ReconcileRequestError';
}

/** Reconcile stops walking this long before the invocation ends, so its summary is still returned. */
const DEADLINE_MARGIN_MS = 30_000;

export async function handleReconcile(sync: SyncFn, event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SyncPoliciesResult> {
  const parsed = eventSchema.safeParse(event);
  if (!parsed.success) throw new ReconcileRequestError('reconcile expects {"policy": "<name>"} (the schedule rule sets it)');
  const { policy } = parsed.data;
  const controller = new AbortController();
  const remaining = context?.getRemainingTimeInMillis();
  const timer = remaining === undefined ? undefined : setTimeout(() => controller.abort(new Error('invocation deadline approaching')), Math.max(0, remaining - DEADLINE_MARGIN_MS));
  try {
    return await sync({ policy, trigger: 'schedule', signal: controller.signal });
  } catch (err) {
    // A schedule for a policy that was renamed or removed without redeploying the rule.
    if (err instanceof UnknownPolicyError) throw new ReconcileRequestError(`${err.message}, in the deployed config`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const app = lazy(async () => createSync(await openRuntime({ name: 'reconcile', needs: { webhookSecrets: false, registryCredentials: true } })));

export async function handler(event: unknown, context: Context): Promise<SyncPoliciesResult> {
  return handleReconcile(await app.get(), event, context);
}
