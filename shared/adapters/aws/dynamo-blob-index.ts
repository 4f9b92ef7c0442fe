// BlobIndex on the job table (layout in table-schema.ts): one BLOB#<registry>#<digest> item
// per blob and destination registry. The upload lease is a conditional update, so workers on
// different Lambda instances never both hold it; the table's TTL removes old items.
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock, type Clock } from '../../jobs/ports.js';
import { DEFAULT_SIGHTING_TTL_MS, type BlobClaim, type BlobEntry, type BlobIndex } from '../../replicate/blob-index.js';
import { blobPk } from './dynamo-items.js';
import { awsErrorName, wrapAwsError } from './errors.js';
import { PARTITION_KEY, TTL_ATTRIBUTE } from './table-schema.js';

export interface DynamoBlobIndexOptions {
  table: string;
  clock?: Clock;
  sightingTtlMs?: number;
}

const isConditionFailure = (err: unknown): boolean => awsErrorName(err) === 'ConditionalCheckFailedException';

export class DynamoBlobIndex implements BlobIndex {
  private readonly table: string;
  private readonly clock: Clock;
  private readonly ttlMs: number;

  constructor(private readonly doc: DynamoDBDocumentClient, options: DynamoBlobIndexOptions) {
    this.table = options.table;
    this.clock = options.clock ?? systemClock;
    this.ttlMs = options.sightingTtlMs ?? DEFAULT_SIGHTING_TTL_MS;
  }

  async get(registry: string, digest: string): Promise<BlobEntry> {
    try {
      const res = await this.doc.send(new GetCommand({ TableName: this.table, Key: { [PARTITION_KEY]: blobPk(registry, digest) }, ConsistentRead: true }));
      return this.view(res.Item, this.now());
    } catch (err) {
      throw wrapAwsError('dynamodb', 'GetItem', this.table, err);
    }
  }

  async claim(registry: string, digest: string, owner: string, leaseMs: number): Promise<BlobClaim> {
    const now = this.now();
    try {
      const res = await this.doc.send(new UpdateCommand({
        TableName: this.table,
        Key: { [PARTITION_KEY]: blobPk(registry, digest) },
        UpdateExpression: 'SET uploader = :owner, leaseUntil = :until, #ttl = :ttl',
        ConditionExpression: 'attribute_not_exists(uploader) OR uploader = :owner OR leaseUntil <= :now',
        ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
        ExpressionAttributeValues: { ':owner': owner, ':until': now + leaseMs, ':now': now, ':ttl': this.expiresAt(now) },
        ReturnValues: 'ALL_NEW',
      }));
      return { claimed: true, entry: this.view(res.Attributes, now) };
    } catch (err) {
      if (!isConditionFailure(err)) throw wrapAwsError('dynamodb', 'UpdateItem', this.table, err);
    }
    return { claimed: false, entry: await this.get(registry, digest) };
  }

  async record(registry: string, digest: string, repository: string, owner?: string): Promise<void> {
    const now = this.now();
    try {
      await this.doc.send(new UpdateCommand({
        TableName: this.table,
        Key: { [PARTITION_KEY]: blobPk(registry, digest) },
        UpdateExpression: 'SET repository = :repository, seenUntil = :until, #ttl = :ttl',
        ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
        ExpressionAttributeValues: { ':repository': repository, ':until': now + this.ttlMs, ':ttl': this.expiresAt(now) },
      }));
    } catch (err) {
      throw wrapAwsError('dynamodb', 'UpdateItem', this.table, err);
    }
    // After the sighting, so whoever waits on the lease finds the blob when it ends.
    if (owner !== undefined) await this.release(registry, digest, owner);
  }

  async release(registry: string, digest: string, owner: string): Promise<void> {
    await this.conditionalRemove(registry, digest, 'REMOVE uploader, leaseUntil', 'uploader = :value', owner);
  }

  async forget(registry: string, digest: string, repository: string): Promise<void> {
    await this.conditionalRemove(registry, digest, 'REMOVE repository, seenUntil', 'repository = :value', repository);
  }

  private async conditionalRemove(registry: string, digest: string, update: string, condition: string, value: string): Promise<void> {
    try {
      await this.doc.send(new UpdateCommand({
        TableName: this.table,
        Key: { [PARTITION_KEY]: blobPk(registry, digest) },
        UpdateExpression: update,
        ConditionExpression: condition,
        ExpressionAttributeValues: { ':value': value },
      }));
    } catch (err) {
      if (isConditionFailure(err)) return; // someone else's lease or sighting now
      throw wrapAwsError('dynamodb', 'UpdateItem', this.table, err);
    }
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  /** TTL (epoch seconds): an hour past the longest a sighting written now can last. */
  private expiresAt(now: number): number {
    return Math.ceil((now + this.ttlMs) / 1000) + 3600;
  }

  private view(item: Record<string, unknown> | undefined, now: number): BlobEntry {
    const entry: BlobEntry = {};
    if (!item) return entry;
    if (typeof item.repository === 'string' && typeof item.seenUntil === 'number' && item.seenUntil > now) entry.repository = item.repository;
    if (typeof item.uploader === 'string' && typeof item.leaseUntil === 'number' && item.leaseUntil > now) entry.uploader = item.uploader;
    return entry;
  }
}
