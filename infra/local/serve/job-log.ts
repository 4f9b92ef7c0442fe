// One structured log line when a job run starts and one when it ends, each carrying the
// job id, policy, source repository/reference and destination, so a grep for any of them
// tells a job's whole story.
import type { Job } from '../../../shared/jobs/model.js';
import type { JobStore, ReceivedMessage } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';
import type { MessageHandler } from './worker-pool.js';

export function jobFields(job: Job): Record<string, unknown> {
  return {
    jobId: job.id,
    policy: job.policy,
    registry: job.source.registry,
    repository: job.source.repository,
    reference: job.source.reference,
    destination: `${job.destination.registry}/${job.destination.repository}`,
  };
}

export function withJobLogging(runner: MessageHandler, store: JobStore, logger: Logger): MessageHandler {
  return {
    async handle(received: ReceivedMessage, signal: AbortSignal) {
      const started = Date.now();
      const before = await store.get(received.message.jobId).catch(() => undefined);
      const base = before ? jobFields(before) : { jobId: received.message.jobId, key: received.message.key };
      logger.info({ ...base, attempt: (before?.attempts ?? 0) + 1, receiveCount: received.receiveCount }, 'job started');
      const result = await runner.handle(received, signal);
      const after = await store.get(received.message.jobId).catch(() => undefined);
      const fields: Record<string, unknown> = { ...base, result, ms: Date.now() - started };
      if (after) {
        fields.status = after.status;
        fields.attempts = after.attempts;
        if (after.outcome) fields.outcome = after.outcome;
        if (after.stats) fields.stats = after.stats;
        if (after.lastError && (after.status === 'failed' || after.status === 'dead')) fields.error = after.lastError;
      }
      const failed = after?.status === 'failed' || after?.status === 'dead';
      if (failed) logger.warn(fields, 'job finished');
      else logger.info(fields, 'job finished');
      return result;
    },
  };
}
