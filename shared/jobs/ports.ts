// Ports the core depends on. Adapters: shared/adapters/embedded (SQLite) and
// shared/adapters/aws (SQS + DynamoDB). One contract suite (test/contract) runs on both.
import type { RateStore } from '../registry/rate-control.js';
import type { BlobIndex } from '../replicate/blob-index.js';
import type { ControlStore } from './control-ports.js';
import type { Job, JobMessage, JobStatus } from './model.js';

export interface ReceivedMessage {
  message: JobMessage;
  /** Opaque handle for ack / retryLater / deadLetter (SQS receipt handle, or a row token). */
  receipt: string;
  /** How many times this message has been delivered, this delivery included. */
  receiveCount: number;
}

export interface DeadLetter {
  message: JobMessage;
  /** Id of the dead-letter entry (used to delete it after replay). */
  id: string;
  reason?: string;
  deadAt?: string;
}

export interface ReplaySelector {
  all?: boolean;
  jobIds?: string[];
  repository?: string;
}

export interface QueueDepth {
  /** Messages waiting to be received (including delayed ones). */
  queued: number;
  /** Received and not yet acked. */
  inFlight: number;
  dead: number;
}

export interface JobQueue {
  /** Durable when it resolves. Adapters split into their own batch limits. */
  send(messages: JobMessage[], delaySeconds?: number): Promise<void>;
  /** Up to max messages, each invisible to other receivers for visibilitySeconds. */
  receive(max: number, visibilitySeconds: number, waitSeconds?: number): Promise<ReceivedMessage[]>;
  ack(receipt: string): Promise<void>;
  /**
   * Make the message visible again after delaySeconds (retry with backoff, or release on
   * shutdown). Like SQS ChangeMessageVisibility: the receipt stays valid, so calling it
   * with the visibility timeout while a job runs extends the lease (heartbeat), and ack
   * still works afterwards.
   */
  retryLater(receipt: string, delaySeconds: number): Promise<void>;
  /**
   * Put a received message back, visible after delaySeconds, as if this delivery had not
   * happened: for runs that did not take place or do not count (the key is busy with another
   * run, shutdown). Unlike retryLater, the delivery does not add to the message's receive
   * count, so a job kept waiting longer than maxAttempts deliveries never trips SQS's
   * redrive policy (which is there for crashing runs). A stale receipt does nothing.
   */
  requeue(receipt: string, message: JobMessage, delaySeconds: number): Promise<void>;
  /** Move a received message to the dead-letter queue now. */
  deadLetter(receipt: string, message: JobMessage, reason: string): Promise<void>;
  /** Non-destructive listing, oldest first; no limit = all. */
  listDead(limit?: number): Promise<DeadLetter[]>;
  /** Move matching dead letters back to the queue; returns the job ids moved. */
  replayDead(selector: ReplaySelector, resolveRepository?: (jobId: string) => Promise<string | undefined>): Promise<string[]>;
  depth(): Promise<QueueDepth>;
  /**
   * Optional: receives of this process blocked in a long poll return now (with nothing), so
   * a draining worker pool stops at once instead of after the poll's wait.
   */
  interrupt?(): void;
}

/** Filters of a job listing; an undefined field filters nothing. */
export interface JobQuery {
  status?: JobStatus | undefined;
  policy?: string | undefined;
  repository?: string | undefined;
  /** ISO timestamps bounding createdAt. */
  since?: string | undefined;
  until?: string | undefined;
  limit?: number | undefined;
  /** Opaque cursor from a previous page. */
  cursor?: string | undefined;
}

/** A change to a job record: a field set to undefined is removed from the record. */
export type JobPatch = { [K in keyof Job]?: Job[K] | undefined } & { status: JobStatus };
// list() order: newest first (createdAt descending, then id descending). `repository`
// matches the source or the destination repository; `since` is inclusive, `until` exclusive.

/** A list cursor that no page handed out (bad request: HTTP 400). */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
  constructor(readonly cursor: string) {
    super(`invalid job list cursor ${JSON.stringify(cursor.slice(0, 200))}: pass the cursor of a previous page unchanged`);
  }
}

export interface JobPage {
  jobs: Job[];
  cursor?: string;
}

export interface CreateResult {
  job: Job;
  /** false when an equal job already existed (same id) or a queued job with the same key absorbed it. */
  created: boolean;
}

export interface JobStore {
  /**
   * Idempotent create: an existing id returns that job; a job whose key already has a
   * queued (not yet running) job returns the queued one (coalescing duplicate deliveries).
   */
  create(job: Job): Promise<CreateResult>;
  /**
   * Optional batch form of create, same result as creating each job in order (a later job
   * may coalesce onto an earlier one of the same batch). Lets an adapter make a whole
   * webhook or reconcile batch durable in one write; enqueue() uses it when present.
   */
  createMany?(jobs: Job[]): Promise<CreateResult[]>;
  get(id: string): Promise<Job | undefined>;
  /**
   * Conditional transition: applies patch only when the job's current status is in
   * `from`; returns the updated job, or undefined when the condition failed.
   */
  transition(id: string, from: readonly JobStatus[], patch: JobPatch): Promise<Job | undefined>;
  /**
   * Claim the job's key for a run (lease): false while another owner holds an unexpired
   * lease on the key. Prevents two runs of one key racing (lost update). `owner` names one
   * run (the runner uses `jobId:random`, so two deliveries of the same job also exclude
   * each other); the same owner claiming again renews the lease (heartbeat).
   */
  claimKey(key: string, owner: string, leaseSeconds: number): Promise<boolean>;
  /** Ends the lease if `owner` still holds it; otherwise does nothing. */
  releaseKey(key: string, owner: string): Promise<void>;
  list(query: JobQuery): Promise<JobPage>;
  /** Remove terminal records whose expiresAt has passed (DynamoDB does this itself via TTL). */
  purgeExpired?(nowEpochSeconds: number): Promise<number>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A backend: the ports a host works against, and how to close it. */
export interface Backend {
  queue: JobQueue;
  store: JobStore;
  /** Blobs known at (or being uploaded to) destination registries, shared by every worker of the backend. */
  blobIndex?: BlobIndex;
  /**
   * Optional: release at once the messages and key leases held by runs whose process is
   * known to be dead (the embedded backend, same host); `ferry serve` calls it at start.
   */
  recoverAbandoned?(): Promise<{ messages: number; leases: number }>;
  /** Registries' back-off state and request schedule, shared by every worker (AWS); absent = per process. */
  rateStore?: RateStore;
  /** Policy state (paused, last sync/verify) and recent webhook deliveries. */
  control: ControlStore;
  close(): Promise<void>;
}
