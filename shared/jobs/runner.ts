// Runs one received job message to its next state. The order of steps is what makes
// at-least-once delivery safe:
//   - the message is acked only after the job record says how the run ended;
//   - a key lease keeps two runs of one key (two deliveries, or a newer job for the same
//     tag) from racing; the loser is deferred, which is not an attempt;
//   - while the job runs, a heartbeat extends both the message visibility and the lease,
//     so a long copy is not redelivered to another worker halfway through.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { MetricsRecorder } from '../observability/recorder.js';
import type { Logger } from '../observability/logger.js';
import type { ReplicateJob, ReplicateOutcome } from '../replicate/types.js';
import { backoffDelayMs, MAX_BACKOFF_MS, type Jitter } from '../retry/backoff.js';
import { classifyError } from './classify.js';
import { attemptDeadline, JobTimeoutError } from './job-timeout.js';
import { DEFAULT_TTL_SECONDS, isTerminal, withAttempt, type Job, type JobAttempt, type JobError } from './model.js';
import { JobUploadSessions } from './upload-sessions.js';
import { selfIdentity } from './process-identity.js';
import { systemClock, type Clock, type JobQueue, type JobStore, type ReceivedMessage } from './ports.js';

export const DEFAULT_JOB_TIMEOUT_MS = 3_600_000;
/** After the job timeout fires, how long the run may take to stop before the runner stops waiting for it. */
const JOB_TIMEOUT_GRACE_MS = 15_000;

export type RunResult = 'succeeded' | 'skipped' | 'retry' | 'dead' | 'duplicate' | 'deferred' | 'paused' | 'cancelled';

export interface JobRunnerOptions {
  queue: JobQueue;
  store: JobStore;
  replicate: ReplicateJob<Job>;
  /** Runs before a job is dead-lettered (worker.maxAttempts). */
  maxAttempts: number;
  /** First backoff (worker.retryDelay, ms); doubles per attempt. */
  retryDelayMs: number;
  /** How long a received message stays invisible; also the key lease (worker.visibilityTimeout in s). */
  visibilitySeconds: number;
  /** How long terminal records are kept (config retention, ms). Default 30 days. */
  retentionMs?: number;
  /** Delay before a deferred message (key busy) is tried again. Default 5 s. */
  deferSeconds?: number;
  /** Longest run of one attempt (worker.jobTimeout, ms); then it is cut and counts as a transient failure. Default 1 h. */
  jobTimeoutMs?: number;
  /** Heartbeat period; default a third of the visibility timeout. */
  heartbeatMs?: number;
  maxBackoffMs?: number;
  jitter?: Jitter;
  random?: () => number;
  clock?: Clock;
  logger?: Logger;
  metrics?: MetricsRecorder;
  /** Whether the job's policy is paused right now: its jobs are then held `paused`, not run. */
  isPaused?: (policy: string) => Promise<boolean>;
  /** How often a running job's record is read for a cancel request. Default 1 s. */
  cancelPollMs?: number;
}

/** The reason a run is aborted with when an admin cancelled it. */
export class JobCancelledError extends Error {
  override readonly name = 'JobCancelledError';
}

export interface JobRunner {
  handle(received: ReceivedMessage, signal?: AbortSignal): Promise<RunResult>;
}

export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const { queue, store, replicate, maxAttempts, visibilitySeconds, logger, metrics } = options;
  const clock = options.clock ?? systemClock;
  const retentionSeconds = Math.round((options.retentionMs ?? DEFAULT_TTL_SECONDS * 1000) / 1000);
  const deferSeconds = options.deferSeconds ?? 5;
  const jobTimeoutMs = options.jobTimeoutMs ?? DEFAULT_JOB_TIMEOUT_MS;
  const heartbeatMs = options.heartbeatMs ?? Math.max(1000, (visibilitySeconds * 1000) / 3);
  const backoff = {
    baseMs: options.retryDelayMs,
    capMs: options.maxBackoffMs ?? MAX_BACKOFF_MS,
    jitter: options.jitter ?? 'equal',
    ...(options.random ? { random: options.random } : {}),
  };

  const expiresAt = (now: Date) => Math.floor(now.getTime() / 1000) + retentionSeconds;
  const cancelPollMs = options.cancelPollMs ?? 1000;

  /** The job's history with this run's attempt appended. */
  function attempt(job: Job, now: Date, fields: Omit<JobAttempt, 'attempt' | 'startedAt' | 'finishedAt'>): JobAttempt[] {
    return withAttempt(job.history, { attempt: job.attempts, startedAt: job.startedAt ?? now.toISOString(), finishedAt: now.toISOString(), ...fields });
  }

  /** Aborts `controller` once the job's record carries a cancel request; returns the stopper. */
  function watchCancel(job: Job, controller: AbortController, log: Logger | undefined): () => void {
    const timer = setInterval(() => {
      store.get(job.id)
        .then((current) => {
          if (current?.cancelRequested && !controller.signal.aborted) {
            log?.info({ by: current.cancelRequested.by }, 'cancel requested: stopping the run');
            controller.abort(new JobCancelledError(`cancelled by ${current.cancelRequested.by}`));
          }
        })
        .catch((err: unknown) => log?.warn({ err }, 'reading the job for a cancel request failed'));
    }, cancelPollMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  function jobLog(job: Job): Logger | undefined {
    return logger?.child({ jobId: job.id, policy: job.policy, repository: job.source.repository, reference: job.source.reference, destination: `${job.destination.registry}/${job.destination.repository}` });
  }

  /** Extends visibility and lease while the job runs; failures are logged, never thrown. */
  function startHeartbeat(receipt: string, key: string, owner: string, log: Logger | undefined): () => void {
    // At once too: the receive may have hidden the message for longer (an SQS event source
    // uses the queue's own, much longer timeout), and a worker dying now must not keep the
    // job hidden past worker.visibilityTimeout.
    queue.retryLater(receipt, visibilitySeconds).catch((err: unknown) => log?.warn({ err }, 'heartbeat failed'));
    const timer = setInterval(() => {
      Promise.all([queue.retryLater(receipt, visibilitySeconds), store.claimKey(key, owner, visibilitySeconds)])
        .then(([, held]) => { if (!held) log?.warn('lost the key lease while running (another run may start)'); })
        .catch((err: unknown) => log?.warn({ err }, 'heartbeat failed'));
    }, heartbeatMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * True while this run still holds its key. A run that stalled past its lease (a frozen
   * process) may have been replaced; then the other run owns the record and this one must
   * not write its result over it.
   */
  async function stillOwner(job: Job, owner: string, log: Logger | undefined): Promise<boolean> {
    const held = await store.claimKey(job.key, owner, visibilitySeconds);
    if (!held) log?.warn('another run took over this job while it stalled; this run\'s result is discarded');
    return held;
  }

  async function finishSuccess(job: Job, outcome: ReplicateOutcome, receipt: string, started: number, log: Logger | undefined): Promise<RunResult> {
    const status = outcome.action === 'skipped' ? 'skipped' : 'succeeded';
    const now = clock.now();
    const done = await store.transition(job.id, ['running'], {
      status,
      outcome: { action: outcome.action, ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}), ...(outcome.digest !== undefined ? { digest: outcome.digest } : {}) },
      stats: outcome.stats,
      finishedAt: now.toISOString(),
      expiresAt: expiresAt(now),
      // A replayed or retried job that now succeeds no longer shows its old error (the
      // history keeps it).
      lastError: undefined,
      cancelRequested: undefined,
      history: attempt(job, now, { outcome: status, action: outcome.reason ? `${outcome.action} (${outcome.reason})` : outcome.action, bytes: outcome.stats.bytes }),
    });
    await queue.ack(receipt);
    if (!done) {
      // Another run took over (this one stalled past its lease) and owns the record now.
      log?.warn('job record changed while running (another run took over); this outcome was not recorded');
      return 'duplicate';
    }
    metrics?.jobsFinished.inc({ status, policy: job.policy });
    metrics?.jobDuration.observe({ status }, (performance.now() - started) / 1000);
    metrics?.recordStats(outcome.stats);
    if (outcome.action !== 'skipped' && outcome.action !== 'none') {
      metrics?.replicationLag?.observe({ policy: job.policy }, Math.max(0, now.getTime() - Date.parse(job.createdAt)) / 1000);
    }
    log?.info({ status, action: outcome.action, reason: outcome.reason, digest: outcome.digest, stats: outcome.stats }, 'job finished');
    return status;
  }

  async function finishFailure(job: Job, err: unknown, received: ReceivedMessage, started: number, log: Logger | undefined): Promise<RunResult> {
    const { error, retryAfterMs } = classifyError(err);
    const now = clock.now();
    const seconds = (performance.now() - started) / 1000;
    if (!error.transient || job.attempts >= maxAttempts) {
      const reason = error.transient
        ? `attempts exhausted (${job.attempts}/${maxAttempts}): ${error.message}`
        : `permanent error: ${error.message}`;
      // Dead-letter first: a crash between the two steps then leaves the message in the DLQ
      // (where replay finds it) instead of queued for a job that will never run again.
      await queue.deadLetter(received.receipt, received.message, reason);
      await store.transition(job.id, ['running'], { status: 'dead', lastError: error, finishedAt: now.toISOString(), expiresAt: expiresAt(now), cancelRequested: undefined, history: attempt(job, now, { outcome: 'dead', error }) });
      metrics?.jobsFinished.inc({ status: 'dead', policy: job.policy });
      metrics?.jobDuration.observe({ status: 'dead' }, seconds);
      log?.error({ err, error, attempts: job.attempts }, `job dead: ${reason}`);
      return 'dead';
    }
    const delayMs = backoffDelayMs(job.attempts, backoff, retryAfterMs);
    const delaySeconds = Math.ceil(delayMs / 1000);
    await store.transition(job.id, ['running'], { status: 'failed', lastError: error, nextAttemptAt: new Date(now.getTime() + delaySeconds * 1000).toISOString(), history: attempt(job, now, { outcome: 'failed', error }) });
    await queue.retryLater(received.receipt, delaySeconds);
    metrics?.jobsFinished.inc({ status: 'failed', policy: job.policy });
    metrics?.jobDuration.observe({ status: 'failed' }, seconds);
    log?.warn({ err, error, attempts: job.attempts, retryInMs: delayMs }, 'job failed, will retry');
    return 'retry';
  }

  return {
    async handle(received, signal) {
      const { message, receipt } = received;
      const found = await store.get(message.jobId);
      if (!found) {
        // Expired and purged, or never stored: nothing to converge.
        logger?.warn({ jobId: message.jobId, key: message.key }, 'message for an unknown job dropped');
        await queue.ack(receipt);
        return 'duplicate';
      }
      if (isTerminal(found.status)) {
        await queue.ack(receipt);
        return 'duplicate';
      }
      const log = jobLog(found);
      const owner = `${found.id}:${randomUUID()}@${selfIdentity()}`;
      if (!(await store.claimKey(found.key, owner, visibilitySeconds))) {
        await queue.requeue(receipt, received.message, deferSeconds);
        log?.debug('key busy with another run, deferred');
        return 'deferred';
      }
      let stopHeartbeat: (() => void) | undefined;
      try {
        // Re-read under the lease: the record may have moved on since the first read.
        const current = await store.get(found.id);
        if (!current || isTerminal(current.status) || current.status === 'paused') {
          // paused: held until resume, which queues it again with a fresh message.
          await queue.ack(receipt);
          return 'duplicate';
        }
        if (options.isPaused && (await options.isPaused(current.policy))) {
          const held = await store.transition(current.id, [current.status], { status: 'paused' });
          await queue.ack(receipt);
          if (held) log?.info('policy paused: job held until resume');
          return held ? 'paused' : 'duplicate';
        }
        // 'running' is allowed: holding the lease proves the previous run is gone (it crashed
        // and its lease expired), so this delivery takes over.
        const job = await store.transition(current.id, [current.status], {
          status: 'running',
          attempts: current.attempts + 1,
          startedAt: clock.now().toISOString(),
          nextAttemptAt: undefined,
        });
        if (!job) {
          await queue.requeue(receipt, received.message, deferSeconds);
          return 'deferred';
        }
        metrics?.jobAttempts.inc();
        log?.info({ attempt: job.attempts, receiveCount: received.receiveCount }, 'job started');
        stopHeartbeat = startHeartbeat(receipt, job.key, owner, log);
        const cancel = new AbortController();
        const stopWatch = watchCancel(job, cancel, log);
        const started = performance.now();
        let outcome: ReplicateOutcome;
        const deadline = attemptDeadline(jobTimeoutMs, JOB_TIMEOUT_GRACE_MS);
        try {
          const runSignal = AbortSignal.any([...(signal ? [signal] : []), deadline.signal, cancel.signal]);
          outcome = await Promise.race([
            replicate(job, { signal: runSignal, uploads: new JobUploadSessions(store, job.id, job.uploads) }),
            // Work that does not stop when its signal fires must not pin the worker either.
            deadline.expired.then((timeout) => Promise.reject(timeout)),
          ]);
        } catch (err) {
          stopHeartbeat();
          stopWatch();
          if (!(await stillOwner(job, owner, log))) return 'duplicate';
          if (signal?.aborted) return await release(current, job, received, log);
          if (cancel.signal.aborted) return await finishCancelled(job, received, log);
          const failure = deadline.signal.aborted && !(err instanceof JobTimeoutError) ? new JobTimeoutError(jobTimeoutMs, err) : err;
          return await finishFailure(job, failure, received, started, log);
        } finally {
          deadline.clear();
        }
        stopHeartbeat();
        stopWatch();
        if (!(await stillOwner(job, owner, log))) {
          await queue.ack(receipt);
          return 'duplicate';
        }
        return await finishSuccess(job, outcome, receipt, started, log);
      } finally {
        stopHeartbeat?.();
        await store.releaseKey(found.key, owner).catch((err: unknown) => log?.warn({ err }, 'releasing the key lease failed'));
      }
    },
  };

  /** An admin cancelled the run: the record says so, the message is done (retry sends a new one). */
  async function finishCancelled(job: Job, received: ReceivedMessage, log: Logger | undefined): Promise<RunResult> {
    const now = clock.now();
    const latest = await store.get(job.id);
    const by = latest?.cancelRequested?.by ?? 'admin';
    const error: JobError = { message: `cancelled by ${by}`, transient: false, code: 'CANCELLED' };
    await store.transition(job.id, ['running'], {
      status: 'cancelled',
      lastError: error,
      finishedAt: now.toISOString(),
      expiresAt: expiresAt(now),
      history: attempt(job, now, { outcome: 'cancelled', error }),
    });
    await queue.ack(received.receipt);
    metrics?.jobsFinished.inc({ status: 'cancelled', policy: job.policy });
    log?.info({ by }, 'job cancelled (upload sessions kept for a retry)');
    return 'cancelled';
  }

  /** Shutdown interrupted the run: not the job's fault, so the attempt does not count. */
  async function release(before: Job, job: Job, received: ReceivedMessage, log: Logger | undefined): Promise<RunResult> {
    const interrupted: JobError = { message: 'interrupted by shutdown', transient: true, code: 'INTERRUPTED' };
    await store.transition(job.id, ['running'], {
      status: before.status === 'running' ? 'queued' : before.status,
      attempts: before.attempts,
      ...(before.lastError ? {} : { lastError: interrupted }),
      history: attempt(job, clock.now(), { outcome: 'interrupted', error: interrupted }),
    });
    await queue.requeue(received.receipt, received.message, 0);
    log?.info('job interrupted by shutdown, released');
    return 'retry';
  }
}
