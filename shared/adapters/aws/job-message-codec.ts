// The SQS message body: a JobMessage as JSON. Decoding validates, because a queue can hold
// anything anyone sent to it.
import type { JobMessage } from '../../jobs/model.js';

export function encodeJobMessage(message: JobMessage): string {
  return JSON.stringify({ jobId: message.jobId, key: message.key });
}

/** undefined for a body that is not a JobMessage (such a message is quarantined, not run). */
export function decodeJobMessage(body: string | undefined): JobMessage | undefined {
  if (body === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { jobId, key } = value as Record<string, unknown>;
  if (typeof jobId !== 'string' || jobId.length === 0 || typeof key !== 'string') return undefined;
  return { jobId, key };
}
