// JobQueue over SQS: a jobs queue whose redrive policy points at a dead-letter queue.
// Receipts are SQS receipt handles; dead-letter ids are SQS message ids.
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { JobMessage } from '../../jobs/model.js';
import { backoffDelayMs } from '../../retry/backoff.js';
import { sleep } from '../../retry/sleep.js';
import {
  systemClock,
  type Clock,
  type DeadLetter,
  type JobQueue,
  type QueueDepth,
  type ReceivedMessage,
  type ReplaySelector,
} from '../../jobs/ports.js';
import { AwsBackendError, awsErrorName, wrapAwsError } from './errors.js';
import { decodeJobMessage, encodeJobMessage } from './job-message-codec.js';
import { planBatches, SQS_MAX_BATCH_ENTRIES, type OutgoingMessage } from './sqs-batching.js';

/** SQS bounds (seconds). */
const MAX_VISIBILITY_SECONDS = 12 * 3600;
const MAX_DELAY_SECONDS = 900;
const MAX_WAIT_SECONDS = 20;

/** Message attributes ferry puts on dead letters it moves itself. */
export const DEAD_REASON_ATTRIBUTE = 'ferry-dead-reason';
export const DEAD_AT_ATTRIBUTE = 'ferry-dead-at';
/** Reasons are for humans; the cap keeps a huge error text from breaking the size limit. */
const MAX_REASON_CHARS = 4096;

export interface SqsJobQueueOptions {
  queueUrl: string;
  deadLetterQueueUrl: string;
  clock?: Clock;
  /**
   * How long listDead/replayDead keep the dead letters they looked at invisible while
   * scanning; they release them (visibility 0) when done.
   */
  scanVisibilitySeconds?: number;
  /**
   * Long-poll wait for each DLQ scan receive. Short polling (0) samples only some SQS
   * servers and can miss messages; 1 s makes a scan see everything at the cost of 1 s.
   */
  scanWaitSeconds?: number;
  /** Attempts for batch entries SQS reports as failed on its side. */
  sendAttempts?: number;
}

interface DeadEnvelope {
  sqs: Message;
  receipt: string;
  message: JobMessage | undefined;
}

const clamp = (n: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, Math.round(n)));

export class SqsJobQueue implements JobQueue {
  private readonly queueUrl: string;
  private readonly dlqUrl: string;
  private readonly clock: Clock;
  private readonly scanVisibility: number;
  private readonly scanWait: number;
  private readonly sendAttempts: number;

  constructor(private readonly sqs: SQSClient, options: SqsJobQueueOptions) {
    this.queueUrl = options.queueUrl;
    this.dlqUrl = options.deadLetterQueueUrl;
    this.clock = options.clock ?? systemClock;
    this.scanVisibility = clamp(options.scanVisibilitySeconds ?? 120, 1, MAX_VISIBILITY_SECONDS);
    this.scanWait = clamp(options.scanWaitSeconds ?? 1, 0, MAX_WAIT_SECONDS);
    this.sendAttempts = Math.max(1, options.sendAttempts ?? 5);
  }

  async send(messages: JobMessage[], delaySeconds?: number): Promise<void> {
    await this.sendBodies(this.queueUrl, messages.map((m) => ({ body: encodeJobMessage(m) })), delaySeconds);
  }

  async receive(max: number, visibilitySeconds: number, waitSeconds = 0): Promise<ReceivedMessage[]> {
    const received: ReceivedMessage[] = [];
    let wait = clamp(waitSeconds, 0, MAX_WAIT_SECONDS);
    // SQS hands out at most 10 per call: keep asking while messages keep coming, but only
    // the first call waits (long polling) so a partial batch returns promptly.
    while (received.length < max) {
      const batch = await this.receiveRaw(this.queueUrl, Math.min(SQS_MAX_BATCH_ENTRIES, max - received.length), clamp(visibilitySeconds, 0, MAX_VISIBILITY_SECONDS), wait);
      wait = 0;
      if (batch.length === 0) break;
      for (const sqsMessage of batch) {
        const receipt = sqsMessage.ReceiptHandle;
        if (receipt === undefined) continue;
        const message = decodeJobMessage(sqsMessage.Body);
        if (message === undefined) {
          // If parking fails the message reappears later, and the redrive policy is the backstop;
          // the good messages of this batch must not be lost over it.
          await this.quarantine(sqsMessage, receipt).catch(() => undefined);
          continue;
        }
        const receiveCount = Number(sqsMessage.Attributes?.ApproximateReceiveCount ?? '1');
        received.push({ message, receipt, receiveCount: Number.isFinite(receiveCount) && receiveCount > 0 ? receiveCount : 1 });
      }
    }
    return received;
  }

  /** A stale receipt (the message was redelivered since) is not an error: see isStaleReceipt. */
  async ack(receipt: string): Promise<void> {
    try {
      await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receipt }));
    } catch (err) {
      if (isStaleReceipt(err)) return;
      throw wrapAwsError('sqs', 'DeleteMessage', this.queueUrl, err);
    }
  }

  async retryLater(receipt: string, delaySeconds: number): Promise<void> {
    await this.changeVisibility(receipt, delaySeconds);
  }

  /**
   * SQS counts every receive, and a message cannot be un-received: a fresh copy (delayed) is
   * sent and this delivery deleted, so the copy starts its receive count over. Only while this
   * receipt still holds the message; a crash between send and delete leaves a duplicate, which
   * the runner drops.
   */
  async requeue(receipt: string, message: JobMessage, delaySeconds: number): Promise<void> {
    if (!(await this.changeVisibility(receipt, 60))) return;
    await this.send([message], delaySeconds);
    await this.ack(receipt);
  }

  /**
   * Only while this receipt still holds the message (checked by extending its visibility):
   * a stale receipt means another worker has it now, and it must not be dead-lettered
   * under that worker. Then send to the DLQ, then delete: a crash in between leaves a
   * duplicate, never a loss.
   */
  async deadLetter(receipt: string, message: JobMessage, reason: string): Promise<void> {
    if (!(await this.changeVisibility(receipt, 60))) return;
    await this.sendToDeadLetterQueue(encodeJobMessage(message), reason);
    await this.ack(receipt);
  }

  /** Without a limit, the whole DLQ (as the embedded adapter): replay relies on seeing every letter. */
  async listDead(limit = Number.POSITIVE_INFINITY): Promise<DeadLetter[]> {
    const cap = Math.max(0, Math.floor(limit));
    const dead: DeadLetter[] = [];
    const held: string[] = [];
    const seen = new Set<string>();
    try {
      while (dead.length < cap) {
        const batch = await this.receiveDead(Math.min(SQS_MAX_BATCH_ENTRIES, cap - dead.length));
        if (batch.length === 0) break;
        let fresh = 0;
        for (const envelope of batch) {
          held.push(envelope.receipt);
          const id = envelope.sqs.MessageId ?? envelope.receipt;
          if (seen.has(id)) continue;
          seen.add(id);
          fresh++;
          // Bodies that are not job messages cannot be replayed; depth() still counts them.
          if (envelope.message === undefined) continue;
          dead.push(toDeadLetter(envelope.sqs, id, envelope.message));
        }
        // Only messages seen before: the scan outlived the hold and is going round again.
        if (fresh === 0) break;
      }
    } finally {
      await this.release(held);
    }
    return dead.slice(0, cap);
  }

  async replayDead(selector: ReplaySelector, resolveRepository?: (jobId: string) => Promise<string | undefined>): Promise<string[]> {
    const ids = new Set(selector.jobIds ?? []);
    if (!selector.all && ids.size === 0 && selector.repository === undefined) return [];
    if (!selector.all && selector.repository !== undefined && resolveRepository === undefined) {
      throw new Error(`replay by repository ${JSON.stringify(selector.repository)} needs a resolveRepository callback (dead letters carry only job ids)`);
    }
    const matches = async (message: JobMessage): Promise<boolean> => {
      if (selector.all) return true;
      if (ids.has(message.jobId)) return true;
      if (selector.repository !== undefined && resolveRepository) return (await resolveRepository(message.jobId)) === selector.repository;
      return false;
    };

    const moved = new Set<string>();
    const held: string[] = [];
    const seen = new Set<string>();
    try {
      for (;;) {
        const batch = await this.receiveDead(SQS_MAX_BATCH_ENTRIES);
        if (batch.length === 0) break;
        const chosen: DeadEnvelope[] = [];
        let fresh = 0;
        for (const envelope of batch) {
          const id = envelope.sqs.MessageId ?? envelope.receipt;
          const first = !seen.has(id);
          seen.add(id);
          if (first) fresh++;
          if (envelope.message !== undefined && (await matches(envelope.message))) chosen.push(envelope);
          else held.push(envelope.receipt);
        }
        if (chosen.length > 0) {
          // Send first, delete second (at-least-once): a crash in between duplicates a job
          // message, which the runner's conditional transition makes harmless.
          await this.sendBodies(this.queueUrl, chosen.map((e) => ({ body: encodeJobMessage(e.message!) })));
          await this.deleteBatch(this.dlqUrl, chosen.map((e) => e.receipt));
          for (const e of chosen) moved.add(e.message!.jobId);
        }
        if (fresh === 0) break;
      }
    } finally {
      await this.release(held);
    }
    return [...moved];
  }

  async depth(): Promise<QueueDepth> {
    const [main, dlq] = await Promise.all([this.counts(this.queueUrl), this.counts(this.dlqUrl)]);
    return { queued: main.visible + main.delayed, inFlight: main.notVisible, dead: dlq.visible + dlq.delayed + dlq.notVisible };
  }

  // --- internals -------------------------------------------------------------------

  /** false when the receipt no longer holds the message (the change did nothing). */
  private async changeVisibility(receipt: string, seconds: number): Promise<boolean> {
    try {
      await this.sqs.send(new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receipt,
        VisibilityTimeout: clamp(seconds, 0, MAX_VISIBILITY_SECONDS),
      }));
      return true;
    } catch (err) {
      if (isStaleReceipt(err)) return false;
      throw wrapAwsError('sqs', 'ChangeMessageVisibility', this.queueUrl, err);
    }
  }

  private async sendBodies(queueUrl: string, messages: OutgoingMessage[], delaySeconds?: number): Promise<void> {
    // SQS takes whole seconds: round a fractional delay up, never deliver early.
    const delay = delaySeconds === undefined ? undefined : clamp(Math.ceil(delaySeconds), 0, MAX_DELAY_SECONDS);
    for (const batch of planBatches(messages)) {
      let pending = batch.map((m, i) => ({ id: String(i), message: m }));
      for (let attempt = 1; pending.length > 0; attempt++) {
        let failed: Array<{ Id?: string | undefined; SenderFault?: boolean | undefined; Code?: string | undefined; Message?: string | undefined }>;
        try {
          const res = await this.sqs.send(new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: pending.map(({ id, message }) => ({
              Id: id,
              MessageBody: message.body,
              ...(delay !== undefined ? { DelaySeconds: delay } : {}),
              ...(message.attributes ? { MessageAttributes: stringAttributes(message.attributes) } : {}),
            })),
          }));
          failed = res.Failed ?? [];
        } catch (err) {
          throw wrapAwsError('sqs', 'SendMessageBatch', queueUrl, err);
        }
        const senderFault = failed.find((f) => f.SenderFault);
        if (senderFault) {
          throw new AwsBackendError('sqs', 'SendMessageBatch', queueUrl, `entry rejected: ${senderFault.Code ?? 'unknown'}: ${senderFault.Message ?? ''}`, senderFault.Code ? { code: senderFault.Code } : {});
        }
        const failedIds = new Set(failed.map((f) => f.Id));
        pending = pending.filter((p) => failedIds.has(p.id));
        if (pending.length === 0) break;
        if (attempt >= this.sendAttempts) {
          const first = failed[0];
          throw new AwsBackendError('sqs', 'SendMessageBatch', queueUrl, `${pending.length} entries still failing after ${attempt} attempts: ${first?.Code ?? 'unknown'}: ${first?.Message ?? ''}`, first?.Code ? { code: first.Code } : {});
        }
        await sleep(backoffDelayMs(attempt, { baseMs: 100, capMs: 2000 }));
      }
    }
  }

  private async sendToDeadLetterQueue(body: string, reason: string): Promise<void> {
    try {
      await this.sqs.send(new SendMessageCommand({
        QueueUrl: this.dlqUrl,
        MessageBody: body,
        MessageAttributes: stringAttributes({
          [DEAD_REASON_ATTRIBUTE]: reason.slice(0, MAX_REASON_CHARS) || 'dead-lettered',
          [DEAD_AT_ATTRIBUTE]: this.clock.now().toISOString(),
        }),
      }));
    } catch (err) {
      throw wrapAwsError('sqs', 'SendMessage', this.dlqUrl, err);
    }
  }

  /** A body that is not a job message can never run: park it in the DLQ for a human. */
  private async quarantine(sqsMessage: Message, receipt: string): Promise<void> {
    await this.sendToDeadLetterQueue(sqsMessage.Body ?? '', 'unreadable message body (not a ferry job message)');
    await this.ack(receipt);
  }

  private async receiveRaw(queueUrl: string, max: number, visibility: number, wait: number, withAttributes = false): Promise<Message[]> {
    try {
      const res = await this.sqs.send(new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        VisibilityTimeout: visibility,
        WaitTimeSeconds: wait,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        ...(withAttributes ? { MessageAttributeNames: ['All'] } : {}),
      }));
      return res.Messages ?? [];
    } catch (err) {
      throw wrapAwsError('sqs', 'ReceiveMessage', queueUrl, err);
    }
  }

  private async receiveDead(max: number): Promise<DeadEnvelope[]> {
    const batch = await this.receiveRaw(this.dlqUrl, max, this.scanVisibility, this.scanWait, true);
    return batch.flatMap((sqs) => (sqs.ReceiptHandle === undefined ? [] : [{ sqs, receipt: sqs.ReceiptHandle, message: decodeJobMessage(sqs.Body) }]));
  }

  /** Make held DLQ messages visible again (visibility 0). */
  private async release(receipts: string[]): Promise<void> {
    for (let i = 0; i < receipts.length; i += SQS_MAX_BATCH_ENTRIES) {
      const chunk = receipts.slice(i, i + SQS_MAX_BATCH_ENTRIES);
      try {
        await this.sqs.send(new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.dlqUrl,
          Entries: chunk.map((receipt, j) => ({ Id: String(j), ReceiptHandle: receipt, VisibilityTimeout: 0 })),
        }));
      } catch (err) {
        // Not fatal: an unreleased dead letter reappears when its scan visibility ends.
        void err;
      }
    }
  }

  private async deleteBatch(queueUrl: string, receipts: string[]): Promise<void> {
    for (let i = 0; i < receipts.length; i += SQS_MAX_BATCH_ENTRIES) {
      const chunk = receipts.slice(i, i + SQS_MAX_BATCH_ENTRIES);
      let failed;
      try {
        const res = await this.sqs.send(new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((receipt, j) => ({ Id: String(j), ReceiptHandle: receipt })),
        }));
        failed = res.Failed ?? [];
      } catch (err) {
        throw wrapAwsError('sqs', 'DeleteMessageBatch', queueUrl, err);
      }
      const first = failed[0];
      if (first) {
        throw new AwsBackendError('sqs', 'DeleteMessageBatch', queueUrl, `${failed.length} entries not deleted: ${first.Code ?? 'unknown'}: ${first.Message ?? ''}`, first.Code ? { code: first.Code } : {});
      }
    }
  }

  private async counts(queueUrl: string): Promise<{ visible: number; notVisible: number; delayed: number }> {
    try {
      const res = await this.sqs.send(new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }));
      const a = res.Attributes ?? {};
      const n = (v: string | undefined): number => Number(v ?? '0') || 0;
      return { visible: n(a.ApproximateNumberOfMessages), notVisible: n(a.ApproximateNumberOfMessagesNotVisible), delayed: n(a.ApproximateNumberOfMessagesDelayed) };
    } catch (err) {
      throw wrapAwsError('sqs', 'GetQueueAttributes', queueUrl, err);
    }
  }
}

/**
 * SQS answers a receipt from an earlier delivery (the visibility lapsed and the message
 * went to someone else, or it is gone) with one of these. The runner's conditional job
 * transitions make acting on such a message twice harmless, so callers need no error.
 */
function isStaleReceipt(err: unknown): boolean {
  const name = awsErrorName(err);
  return name === 'ReceiptHandleIsInvalid' || name === 'MessageNotInflight' || name === 'AWS.SimpleQueueService.MessageNotInflight';
}

function stringAttributes(attributes: Record<string, string>): Record<string, MessageAttributeValue> {
  return Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]));
}

function toDeadLetter(sqs: Message, id: string, message: JobMessage): DeadLetter {
  const attrs = sqs.MessageAttributes ?? {};
  const reason = attrs[DEAD_REASON_ATTRIBUTE]?.StringValue;
  const deadAt = attrs[DEAD_AT_ATTRIBUTE]?.StringValue;
  return {
    message,
    id,
    // No ferry attribute: SQS moved it itself after maxReceiveCount receives without an ack.
    reason: reason ?? 'receive count exceeded (moved by the queue redrive policy)',
    ...(deadAt !== undefined ? { deadAt } : {}),
  };
}
