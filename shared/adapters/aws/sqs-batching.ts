// How outgoing messages are grouped into SendMessageBatch calls. Pure, so the limits can be
// checked without a queue.

/** SQS: at most 10 entries per batch... */
export const SQS_MAX_BATCH_ENTRIES = 10;
/**
 * ...and at most 256 KiB per message and per batch (body plus attributes). SQS raised
 * its limit to 1 MiB in 2025; staying at 256 KiB keeps ferry working on queues created
 * with the older MaximumMessageSize.
 */
export const SQS_MAX_BATCH_BYTES = 256 * 1024;

export interface OutgoingMessage {
  body: string;
  /** String message attributes, counted towards the size as SQS does (name + type + value). */
  attributes?: Record<string, string>;
}

export interface BatchLimits {
  maxEntries: number;
  maxBytes: number;
}

const DEFAULT_LIMITS: BatchLimits = { maxEntries: SQS_MAX_BATCH_ENTRIES, maxBytes: SQS_MAX_BATCH_BYTES };

/** Size as SQS measures it for the message and batch limits. */
export function messageSize(message: OutgoingMessage): number {
  let size = Buffer.byteLength(message.body, 'utf8');
  for (const [name, value] of Object.entries(message.attributes ?? {})) {
    size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength('String', 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  return size;
}

/**
 * Greedy, order-preserving split: a batch closes when the next message would exceed
 * either limit. A single message over the byte limit is an error (SQS would reject it).
 */
export function planBatches<T extends OutgoingMessage>(messages: readonly T[], limits: BatchLimits = DEFAULT_LIMITS): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const message of messages) {
    const size = messageSize(message);
    if (size > limits.maxBytes) {
      throw new Error(`SQS message of ${size} bytes exceeds the ${limits.maxBytes}-byte limit (body starts ${JSON.stringify(message.body.slice(0, 80))})`);
    }
    if (current.length > 0 && (current.length >= limits.maxEntries || currentBytes + size > limits.maxBytes)) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(message);
    currentBytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
