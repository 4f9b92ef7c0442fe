// JobStore over one DynamoDB table (layout in table-schema.ts). Only conditional
// single-item writes, no transactions: every multi-item step is ordered so that a crash
// between two writes leaves something the next caller recognises and repairs.
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { DEFAULT_TTL_SECONDS, type Job, type JobStatus } from '../../jobs/model.js';
import { systemClock, type Clock, type CreateResult, type JobPage, type JobPatch, type JobQuery, type JobStore } from '../../jobs/ports.js';
import {
  decodeCursor,
  encodeCursor,
  itemToJob,
  jobPk,
  jobToItem,
  leasePk,
  looksLikeJob,
  MATERIALIZED_ATTRIBUTE,
  pointerPk,
  policyPartition,
  repositoryPartition,
  statusPartition,
  ALL_PARTITION,
  timeSortKey,
} from './dynamo-items.js';
import { AwsBackendError, awsErrorName, wrapAwsError } from './errors.js';
import { INDEXES, PARTITION_KEY, TIME_SORT_KEY, type IndexDefinition } from './table-schema.js';

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** Rounds of the pointer protocol before create gives up (each round is one lost race). */
const MAX_POINTER_ROUNDS = 10;

export interface DynamoJobStoreOptions {
  table: string;
  clock?: Clock;
}

type Item = Record<string, unknown>;

type PointerClaim =
  | { kind: 'ours'; wrote: boolean }
  | { kind: 'absorbed'; job: Job }
  | { kind: 'retry' };

const isConditionFailure = (err: unknown): boolean => awsErrorName(err) === 'ConditionalCheckFailedException';

export class DynamoJobStore implements JobStore {
  private readonly table: string;
  private readonly clock: Clock;

  constructor(private readonly doc: DynamoDBDocumentClient, options: DynamoJobStoreOptions) {
    this.table = options.table;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Coalescing protocol for queued jobs, in this order:
   *   1. put QUEUED#<key> -> this job (only if absent);
   *   2. put JOB#<id> (only if absent).
   * Losing step 1 means another job holds the key: if that job is queued, it absorbs this
   * one; if it is not (a pointer left behind), the pointer is taken over conditionally on
   * its old value. A pointer whose job item does not exist yet (its creator is between
   * steps 1 and 2, or crashed there) is completed from the snapshot the pointer carries,
   * so concurrent creators never mistake an in-flight create for a stale pointer.
   */
  async create(job: Job): Promise<CreateResult> {
    const existing = await this.get(job.id);
    if (existing) return { job: existing, created: false };
    if (job.status !== 'queued') return this.putJob(job, false);
    for (let round = 0; round < MAX_POINTER_ROUNDS; round++) {
      const claim = await this.claimPointer(job);
      if (claim.kind === 'ours') return this.putJob(job, claim.wrote);
      if (claim.kind === 'absorbed') return { job: claim.job, created: false };
    }
    throw new AwsBackendError('dynamodb', 'PutItem', this.table, `could not settle the queued pointer for key ${JSON.stringify(job.key)} (job ${job.id}) after ${MAX_POINTER_ROUNDS} rounds of contention`);
  }

  async get(id: string): Promise<Job | undefined> {
    const item = await this.getItem(jobPk(id));
    return item ? itemToJob(item) : undefined;
  }

  async transition(id: string, from: readonly JobStatus[], patch: JobPatch): Promise<Job | undefined> {
    if (from.length === 0) return undefined;
    const update = new UpdateBuilder();
    for (const [field, value] of Object.entries(patch)) {
      if (field === 'id' || field === 'key') continue; // identity never changes
      if (value === undefined) update.remove(field);
      else update.set(field, value);
    }
    if (patch.updatedAt === undefined) update.set('updatedAt', this.clock.now().toISOString());
    // Keep the index attributes in step with the fields they are derived from.
    update.set(INDEXES.byStatus.partitionKey, statusPartition(patch.status));
    if (patch.policy !== undefined) update.set(INDEXES.byPolicy.partitionKey, policyPartition(patch.policy));
    if (patch.source !== undefined) update.set(INDEXES.bySourceRepository.partitionKey, repositoryPartition(patch.source.repository));
    if (patch.destination !== undefined) update.set(INDEXES.byDestinationRepository.partitionKey, repositoryPartition(patch.destination.repository));
    if (patch.createdAt !== undefined) update.set(TIME_SORT_KEY, timeSortKey(patch.createdAt, id));

    const allowed = from.map((s, i) => update.value(`from${i}`, s));
    let updated: Job;
    try {
      const res = await this.doc.send(new UpdateCommand({
        TableName: this.table,
        Key: { [PARTITION_KEY]: jobPk(id) },
        UpdateExpression: update.expression(),
        ConditionExpression: `attribute_exists(${update.name(PARTITION_KEY)}) AND ${update.name('status')} IN (${allowed.join(', ')})`,
        ExpressionAttributeNames: update.names,
        ExpressionAttributeValues: update.values,
        ReturnValues: 'ALL_NEW',
      }));
      if (!res.Attributes) return undefined;
      updated = itemToJob(res.Attributes);
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw wrapAwsError('dynamodb', 'UpdateItem', this.table, err);
    }

    // The pointer follows the job, after the job: a crash here leaves a stale pointer,
    // which create recognises (its job is not queued) and takes over.
    if (updated.status === 'queued') {
      await this.claimPointer(updated).catch(() => undefined);
    } else if (from.includes('queued')) {
      await this.dropPointer(updated.key, updated.id).catch(() => undefined);
    }
    return updated;
  }

  async claimKey(key: string, jobId: string, leaseSeconds: number): Promise<boolean> {
    const now = this.clock.now().getTime();
    const leaseUntil = now + Math.max(0, leaseSeconds) * 1000;
    try {
      await this.doc.send(new PutCommand({
        TableName: this.table,
        Item: {
          [PARTITION_KEY]: leasePk(key),
          holder: jobId,
          leaseUntil,
          // Lets TTL sweep leases nobody released (the holder crashed); a day of slack.
          expiresAt: Math.ceil(leaseUntil / 1000) + 24 * 3600,
        },
        ConditionExpression: 'attribute_not_exists(#pk) OR #until < :now OR #holder = :me',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#until': 'leaseUntil', '#holder': 'holder' },
        ExpressionAttributeValues: { ':now': now, ':me': jobId },
      }));
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw wrapAwsError('dynamodb', 'PutItem', this.table, err);
    }
  }

  async releaseKey(key: string, jobId: string): Promise<void> {
    try {
      await this.doc.send(new DeleteCommand({
        TableName: this.table,
        Key: { [PARTITION_KEY]: leasePk(key) },
        ConditionExpression: '#holder = :me',
        ExpressionAttributeNames: { '#holder': 'holder' },
        ExpressionAttributeValues: { ':me': jobId },
      }));
    } catch (err) {
      if (isConditionFailure(err)) return; // someone else's lease (ours expired and was taken)
      throw wrapAwsError('dynamodb', 'DeleteItem', this.table, err);
    }
  }

  async list(query: JobQuery): Promise<JobPage> {
    const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(query.limit ?? DEFAULT_PAGE)));
    const upper = minDefined(query.until, query.cursor === undefined ? undefined : decodeCursor(query.cursor));
    const since = query.since;
    if (since !== undefined && upper !== undefined && upper <= since) return { jobs: [] };

    // The most selective index carries the query; the other criteria become filters.
    const filter = new FilterBuilder();
    let sources: Array<{ index: IndexDefinition; partition: string }>;
    if (query.repository !== undefined) {
      sources = [
        { index: INDEXES.bySourceRepository, partition: repositoryPartition(query.repository) },
        { index: INDEXES.byDestinationRepository, partition: repositoryPartition(query.repository) },
      ];
      if (query.policy !== undefined) filter.equals('policy', query.policy);
      if (query.status !== undefined) filter.equals('status', query.status);
    } else if (query.policy !== undefined) {
      sources = [{ index: INDEXES.byPolicy, partition: policyPartition(query.policy) }];
      if (query.status !== undefined) filter.equals('status', query.status);
    } else if (query.status !== undefined) {
      sources = [{ index: INDEXES.byStatus, partition: statusPartition(query.status) }];
    } else {
      sources = [{ index: INDEXES.byTime, partition: ALL_PARTITION }];
    }

    // Filtered queries read more items per page than they return.
    const pageSize = Math.min(MAX_PAGE, filter.empty ? limit + 1 : Math.max(100, (limit + 1) * 4));
    const streams = sources.map((s) => new IndexStream(this.doc, this.table, s.index, s.partition, { since, upper }, filter, pageSize));

    // Merge newest first; a job found by both repository indexes appears once.
    const picked: Item[] = [];
    while (picked.length <= limit) {
      let best: { sortKey: string; item: Item } | undefined;
      for (const stream of streams) {
        const head = await stream.peek();
        if (head && (!best || sortKeyOf(head) > best.sortKey)) best = { sortKey: sortKeyOf(head), item: head };
      }
      if (!best) break;
      for (const stream of streams) {
        const head = await stream.peek();
        if (head && sortKeyOf(head) === best.sortKey) stream.shift();
      }
      picked.push(best.item);
    }
    const page = picked.slice(0, limit);
    const last = page[page.length - 1];
    const jobs = page.map(itemToJob);
    return picked.length > limit && last ? { jobs, cursor: encodeCursor(sortKeyOf(last)) } : { jobs };
  }

  // --- the coalescing pointer -------------------------------------------------------

  /** One round of taking QUEUED#<key> for `job` (see create). */
  private async claimPointer(job: Job): Promise<PointerClaim> {
    const pk = pointerPk(job.key);
    if (await this.putPointer(job, 'attribute_not_exists(#pk)', {})) return { kind: 'ours', wrote: true };

    const pointer = await this.getItem(pk);
    if (!pointer) return { kind: 'retry' }; // removed meanwhile: try again from the top
    const holderId = typeof pointer.jobId === 'string' ? pointer.jobId : undefined;
    if (holderId === job.id) return { kind: 'ours', wrote: false };

    let holder = holderId === undefined ? undefined : await this.get(holderId);
    if (!holder && holderId !== undefined && looksLikeJob(pointer.job) && pointer.job.id === holderId) {
      holder = await this.materialize(pointer.job);
    }
    if (holder && holder.status === 'queued' && holder.key === job.key) return { kind: 'absorbed', job: holder };

    // Stale: the job it names has moved on (or the pointer is unreadable). Take it over
    // only if it still says what we read, so two takers cannot both win.
    const stale = holderId === undefined
      ? await this.putPointer(job, 'attribute_exists(#pk) AND attribute_not_exists(#jobId)', {})
      : await this.putPointer(job, '#jobId = :stale', { ':stale': holderId });
    return stale ? { kind: 'ours', wrote: true } : { kind: 'retry' };
  }

  private async putPointer(job: Job, condition: string, values: Record<string, unknown>): Promise<boolean> {
    try {
      await this.doc.send(new PutCommand({
        TableName: this.table,
        Item: {
          [PARTITION_KEY]: pointerPk(job.key),
          jobId: job.id,
          job,
          // A pointer outliving its purpose only costs coalescing; let TTL sweep it eventually.
          expiresAt: Math.floor(this.clock.now().getTime() / 1000) + DEFAULT_TTL_SECONDS,
        },
        ConditionExpression: condition,
        ExpressionAttributeNames: {
          ...(condition.includes('#pk') ? { '#pk': PARTITION_KEY } : {}),
          ...(condition.includes('#jobId') ? { '#jobId': 'jobId' } : {}),
        },
        ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
      }));
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw wrapAwsError('dynamodb', 'PutItem', this.table, err);
    }
  }

  private async dropPointer(key: string, jobId: string): Promise<void> {
    try {
      await this.doc.send(new DeleteCommand({
        TableName: this.table,
        Key: { [PARTITION_KEY]: pointerPk(key) },
        ConditionExpression: '#jobId = :id',
        ExpressionAttributeNames: { '#jobId': 'jobId' },
        ExpressionAttributeValues: { ':id': jobId },
      }));
    } catch (err) {
      if (isConditionFailure(err)) return; // another job holds the key now
      throw wrapAwsError('dynamodb', 'DeleteItem', this.table, err);
    }
  }

  /** Writes the job a pointer names from the pointer's snapshot (see create). */
  private async materialize(job: Job): Promise<Job | undefined> {
    try {
      await this.doc.send(new PutCommand({
        TableName: this.table,
        Item: { ...jobToItem(job), [MATERIALIZED_ATTRIBUTE]: true },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY },
      }));
      return job;
    } catch (err) {
      if (isConditionFailure(err)) return this.get(job.id);
      throw wrapAwsError('dynamodb', 'PutItem', this.table, err);
    }
  }

  /**
   * Step 2 of create. `wrotePointer`: this call won step 1, so if another creator already
   * completed the job from the pointer's snapshot, the creation is still ours to report.
   */
  private async putJob(job: Job, wrotePointer: boolean): Promise<CreateResult> {
    try {
      await this.doc.send(new PutCommand({
        TableName: this.table,
        Item: jobToItem(job),
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY },
      }));
      return { job, created: true };
    } catch (err) {
      if (!isConditionFailure(err)) throw wrapAwsError('dynamodb', 'PutItem', this.table, err);
    }
    const item = await this.getItem(jobPk(job.id));
    if (!item) throw new AwsBackendError('dynamodb', 'PutItem', this.table, `job ${job.id} reported as existing but cannot be read`);
    return { job: itemToJob(item), created: wrotePointer && item[MATERIALIZED_ATTRIBUTE] === true };
  }

  private async getItem(pk: string): Promise<Item | undefined> {
    try {
      const res = await this.doc.send(new GetCommand({ TableName: this.table, Key: { [PARTITION_KEY]: pk }, ConsistentRead: true }));
      return res.Item;
    } catch (err) {
      throw wrapAwsError('dynamodb', 'GetItem', this.table, err);
    }
  }
}

/** Builds SET/REMOVE expressions with placeholders for every name and value. */
class UpdateBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly aliases = new Map<string, string>();

  name(attribute: string): string {
    let alias = this.aliases.get(attribute);
    if (!alias) {
      alias = `#n${this.aliases.size}`;
      this.aliases.set(attribute, alias);
      this.names[alias] = attribute;
    }
    return alias;
  }

  value(label: string, value: unknown): string {
    const placeholder = `:${label}`;
    this.values[placeholder] = value;
    return placeholder;
  }

  set(attribute: string, value: unknown): void {
    this.sets.push(`${this.name(attribute)} = ${this.value(`v${this.sets.length}`, value)}`);
  }

  remove(attribute: string): void {
    this.removes.push(this.name(attribute));
  }

  expression(): string {
    return [this.sets.length ? `SET ${this.sets.join(', ')}` : '', this.removes.length ? `REMOVE ${this.removes.join(', ')}` : ''].filter(Boolean).join(' ');
  }
}

/** Equality filters on plain job attributes, ANDed. */
class FilterBuilder {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private readonly terms: string[] = [];

  get empty(): boolean {
    return this.terms.length === 0;
  }

  equals(attribute: string, value: unknown): void {
    const i = this.terms.length;
    this.names[`#f${i}`] = attribute;
    this.values[`:f${i}`] = value;
    this.terms.push(`#f${i} = :f${i}`);
  }

  expression(): string | undefined {
    return this.terms.length ? this.terms.join(' AND ') : undefined;
  }
}

/**
 * One index partition read newest first, page by page, between the bounds: createdAt >=
 * since (as "since" <= "<createdAt>#<id>") and sort key < upper (a cursor or until).
 */
class IndexStream {
  private buffer: Item[] = [];
  private startKey: Item | undefined;
  private exhausted = false;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly index: IndexDefinition,
    private readonly partition: string,
    private readonly bounds: { since?: string | undefined; upper?: string | undefined },
    private readonly filter: FilterBuilder,
    private readonly pageSize: number,
  ) {}

  async peek(): Promise<Item | undefined> {
    while (this.buffer.length === 0 && !this.exhausted) await this.fetch();
    return this.buffer[0];
  }

  shift(): void {
    this.buffer.shift();
  }

  private async fetch(): Promise<void> {
    const names: Record<string, string> = { '#p': this.index.partitionKey, ...this.filter.names };
    const values: Record<string, unknown> = { ':p': this.partition, ...this.filter.values };
    let keyCondition = '#p = :p';
    const { since, upper } = this.bounds;
    // BETWEEN is inclusive; the upper bound is either until (a bare timestamp no sort key
    // equals) or the cursor (the last job already returned), dropped below.
    if (since !== undefined && upper !== undefined) {
      keyCondition += ' AND #s BETWEEN :lo AND :hi';
      values[':lo'] = since;
      values[':hi'] = upper;
    } else if (since !== undefined) {
      keyCondition += ' AND #s >= :lo';
      values[':lo'] = since;
    } else if (upper !== undefined) {
      keyCondition += ' AND #s < :hi';
      values[':hi'] = upper;
    }
    if (keyCondition.includes('#s')) names['#s'] = this.index.sortKey;
    const filterExpression = this.filter.expression();
    try {
      const res = await this.doc.send(new QueryCommand({
        TableName: this.table,
        IndexName: this.index.indexName,
        KeyConditionExpression: keyCondition,
        ...(filterExpression ? { FilterExpression: filterExpression } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
        Limit: this.pageSize,
        ...(this.startKey ? { ExclusiveStartKey: this.startKey } : {}),
      }));
      const items = (res.Items ?? []).filter((item) => upper === undefined || sortKeyOf(item) < upper);
      this.buffer.push(...items);
      this.startKey = res.LastEvaluatedKey;
      this.exhausted = res.LastEvaluatedKey === undefined;
    } catch (err) {
      throw wrapAwsError('dynamodb', `Query ${this.index.indexName}`, this.table, err);
    }
  }
}

function sortKeyOf(item: Item): string {
  const value = item[TIME_SORT_KEY];
  return typeof value === 'string' ? value : '';
}

function minDefined(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}
