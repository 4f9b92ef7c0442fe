// Turns job specs into durable job records plus queue messages. The webhook, reconcile,
// the admin API and the CLI all enqueue through here.
import { hash, randomUUID } from 'node:crypto';
import { jobKey, type Job, type JobDestination, type JobSource, type Trigger } from './model.js';
import type { Clock, CreateResult, JobQueue, JobStore } from './ports.js';
import { systemClock } from './ports.js';

export interface JobSpec {
  policy: string;
  source: JobSource;
  destination: JobDestination;
  /**
   * Deliver the job's message no sooner than this many seconds from now (0..900, the SQS
   * limit). The record is `queued` meanwhile. Not part of the job: a resend of the same
   * job (a redelivered event) is deferred again.
   */
  delaySeconds?: number;
}

/** Longest message delay every backend honours (SQS DelaySeconds). */
export const MAX_DELAY_SECONDS = 900;

export interface EnqueueDeps {
  queue: JobQueue;
  store: JobStore;
  clock?: Clock;
}

export interface Enqueued {
  job: Job;
  /** false: an equal job was already queued (duplicate delivery) and absorbed this one. */
  created: boolean;
}

/** Same event + same target -> same id, so a redelivered event maps onto the job it already made. */
export function jobIdFor(spec: JobSpec, trigger: Trigger): string {
  if (trigger.kind !== 'event') return randomUUID();
  // One-shot hash: the same digest as hashing the parts in turn, at a third of the cost per webhook.
  const h = hash('sha256', `${trigger.eventId}\0${jobKey(spec.policy, spec.destination, spec.source.reference)}`, 'hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function newJob(spec: JobSpec, trigger: Trigger, now: Date): Job {
  const at = now.toISOString();
  return {
    id: jobIdFor(spec, trigger),
    key: jobKey(spec.policy, spec.destination, spec.source.reference),
    policy: spec.policy,
    source: spec.source,
    destination: spec.destination,
    trigger,
    status: 'queued',
    attempts: 0,
    createdAt: at,
    updatedAt: at,
  };
}

/**
 * Records first, then messages. A job is sent when it was created now, or when it is the
 * very same job (same id, still queued): that is a sender retrying after an earlier send
 * failed, so sending again is what makes the retry safe. Duplicate messages are harmless:
 * the runner's conditional transition lets only one run. Messages go out in one send per
 * delay (specs without `delaySeconds` in one send without a delay, as always); a spec
 * absorbed by another queued job (coalesced) sends nothing and inherits that job's timing.
 */
export async function enqueue(deps: EnqueueDeps, specs: JobSpec[], trigger: Trigger): Promise<Enqueued[]> {
  const now = (deps.clock ?? systemClock).now();
  const results: Enqueued[] = [];
  /** Delay (0 = none) -> jobs to send with it, in spec order. */
  const toSend = new Map<number, Job[]>();
  const delays = specs.map(specDelay); // checked before anything is written
  const jobs = specs.map((spec, i) => {
    const job = newJob(spec, trigger, now);
    return delays[i]! > 0 ? { ...job, nextAttemptAt: new Date(now.getTime() + delays[i]! * 1000).toISOString() } : job;
  });
  const stored = deps.store.createMany
    ? await deps.store.createMany(jobs)
    : await createEach(deps.store, jobs);
  const sending = new Set<string>();
  jobs.forEach((job, i) => {
    const { job: kept, created } = stored[i]!;
    results.push({ job: kept, created });
    const resend = !created && kept.id === job.id && kept.status === 'queued';
    // A batch naming one job twice sends it once.
    if ((created || resend) && !sending.has(kept.id)) {
      sending.add(kept.id);
      const delay = delays[i]!;
      toSend.set(delay, [...(toSend.get(delay) ?? []), kept]);
    }
  });
  // Undelayed first: they are the ones a worker may take at once.
  for (const delay of [...toSend.keys()].sort((a, b) => a - b)) {
    const messages = toSend.get(delay)!.map((j) => ({ jobId: j.id, key: j.key }));
    if (delay > 0) await deps.queue.send(messages, delay);
    else await deps.queue.send(messages);
  }
  return results;
}

function specDelay(spec: JobSpec): number {
  const delay = spec.delaySeconds ?? 0;
  if (!Number.isFinite(delay) || delay < 0 || delay > MAX_DELAY_SECONDS) {
    throw new RangeError(`job delay must be between 0 and ${MAX_DELAY_SECONDS} seconds, got ${delay}`);
  }
  return delay;
}

async function createEach(store: JobStore, jobs: Job[]): Promise<CreateResult[]> {
  const out: CreateResult[] = [];
  for (const job of jobs) out.push(await store.create(job));
  return out;
}
