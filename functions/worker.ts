// Lambda: the worker. The SQS event source hands over a batch; each record is one job run
// by the shared runner, a few at a time. Partial batch response: records whose job must
// run again (retry, deferred, or an unexpected failure) are reported as failures so the
// event source leaves them in the queue; the runner already set their visibility to the
// backoff delay. Succeeded, skipped, duplicate and dead records are done: the runner acked
// (or dead-lettered) them itself.
import pLimit from 'p-limit';
import { decodeJobMessage } from '../shared/adapters/aws/job-message-codec.js';
import type { JobRunner, RunResult } from '../shared/jobs/runner.js';
import type { JobQueue, ReceivedMessage } from '../shared/jobs/ports.js';
import type { Logger } from '../shared/observability/logger.js';
import type { LambdaMetrics } from './lib/emf-metrics.js';
import { ecrBeforeCopy } from './lib/ecr-repositories.js';
import { ENV } from './lib/baked-config.js';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { lazy, openRuntime, type Env, type Runtime } from './lib/runtime.js';

/** Results after which the message must stay in the queue. */
const RUN_AGAIN: ReadonlySet<RunResult> = new Set<RunResult>(['retry', 'deferred']);

export interface WorkerApp {
  runner: JobRunner;
  /** For releasing messages the runner never saw (unreadable, or the run blew up). */
  queue: JobQueue;
  logger: Logger;
  /** worker.retryDelay (ms): how soon a message whose run failed unexpectedly comes back. */
  retryDelayMs: number;
  /** Records of one batch run at once. */
  batchConcurrency: number;
  /** Queue lag per record, and the flush of collected metrics at the end of a batch. */
  metrics?: Pick<LambdaMetrics, 'recordLag' | 'flush'>;
}

/** The job engine and the registry transport (undici) are imported here, on the first invocation. */
export async function createWorkerApp(runtime: Runtime, env: Env = process.env): Promise<WorkerApp> {
  const { createJobExecution } = await import('../shared/execution/job-execution.js');
  const { config, backend, logger, metrics } = runtime;
  // ECR destinations with createRepositories: the repository is created before the first copy.
  const beforeCopy = await ecrBeforeCopy(config, async (region) => new (await import('@aws-sdk/client-ecr')).ECRClient({ region }));
  // The runner's heartbeat keeps the message hidden in steps of worker.visibilityTimeout, so a
  // crashed invocation's job reappears after it rather than after the queue's long default.
  const { runner } = createJobExecution(config, backend, { logger, metrics, ...(beforeCopy ? { beforeCopy } : {}) });
  const fromEnv = Number(env[ENV.batchConcurrency]);
  return {
    runner,
    queue: backend.queue,
    logger,
    retryDelayMs: config.worker.retryDelay,
    batchConcurrency: Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 4,
    metrics,
  };
}

/** Seconds between SQS accepting the message and now; undefined without SentTimestamp. */
export function queueLagSeconds(record: SQSRecord, now = Date.now()): number | undefined {
  const sent = Number(record.attributes.SentTimestamp);
  return Number.isFinite(sent) && sent > 0 ? Math.max(0, (now - sent) / 1000) : undefined;
}

/**
 * Time kept back from the invocation's deadline: aborted jobs must still record their
 * release and change the message visibility before Lambda freezes the container.
 */
export function abortMarginMs(remainingMs: number): number {
  return Math.min(60_000, Math.max(5_000, Math.round(remainingMs * 0.1)));
}

export function toReceivedMessage(record: SQSRecord): ReceivedMessage | undefined {
  const message = decodeJobMessage(record.body);
  if (!message) return undefined;
  const count = Number(record.attributes.ApproximateReceiveCount ?? '1');
  return { message, receipt: record.receiptHandle, receiveCount: Number.isFinite(count) && count > 0 ? count : 1 };
}

export async function handleSqsBatch(app: WorkerApp, event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SQSBatchResponse> {
  const { runner, queue, logger } = app;
  const remaining = context.getRemainingTimeInMillis();
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(new Error('invocation deadline approaching')), Math.max(0, remaining - abortMarginMs(remaining)));
  const limit = pLimit(Math.max(1, Math.min(app.batchConcurrency, event.Records.length)));
  const failures: string[] = [];

  const runRecord = async (record: SQSRecord): Promise<void> => {
    const lag = queueLagSeconds(record);
    if (lag !== undefined) app.metrics?.recordLag(lag);
    const received = toReceivedMessage(record);
    if (!received) {
      // Not a job message: let it cycle quickly; the redrive policy parks it, body intact, in the DLQ.
      logger.error({ messageId: record.messageId }, 'worker: unreadable message body, left for the redrive policy');
      await queue.retryLater(record.receiptHandle, 0).catch(() => undefined);
      failures.push(record.messageId);
      return;
    }
    try {
      const result = await runner.handle(received, controller.signal);
      if (RUN_AGAIN.has(result)) failures.push(record.messageId);
    } catch (err) {
      // The runner records outcomes itself; reaching here means the store or queue failed
      // mid-run. Retry after the usual first backoff rather than the queue's long timeout.
      logger.error({ err, messageId: record.messageId, jobId: received.message.jobId }, 'worker: job run failed unexpectedly');
      await queue.retryLater(record.receiptHandle, Math.ceil(app.retryDelayMs / 1000)).catch(() => undefined);
      failures.push(record.messageId);
    }
  };

  try {
    await Promise.all(event.Records.map((record) => limit(() => runRecord(record))));
  } finally {
    clearTimeout(deadline);
    app.metrics?.flush();
  }
  return { batchItemFailures: failures.map((itemIdentifier) => ({ itemIdentifier })) };
}

const app = lazy(async () => await createWorkerApp(await openRuntime({ name: 'worker', needs: { webhookSecrets: false, registryCredentials: true } })));

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  return handleSqsBatch(await app.get(), event, context);
}
