// RateStore on the job table (layout in table-schema.ts): one RATE#<registry> item holding
// the registry's back-off state and the time of its next free request slot. Every change
// is a conditional write on a version number, retried on a lost race, so the workers of all
// Lambda instances share one schedule (the ceiling holds for all of them together) and one
// back-off.
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RateState, RateStore } from '../../registry/rate-control.js';
import { ratePk } from './dynamo-items.js';
import { AwsBackendError, awsErrorName, wrapAwsError } from './errors.js';
import { PARTITION_KEY, TTL_ATTRIBUTE } from './table-schema.js';

const MAX_ROUNDS = 20;
/** Unused items go after a day (TTL). */
const TTL_SECONDS = 24 * 3600;

interface RateItem {
  state: RateState;
  /** Next free request slot (epoch ms). */
  tat: number;
  version: number;
}

export class DynamoRateStore implements RateStore {
  constructor(private readonly doc: DynamoDBDocumentClient, private readonly table: string) {}

  async load(registry: string): Promise<RateState> {
    return (await this.read(registry)).state;
  }

  async update(registry: string, change: (state: RateState) => RateState): Promise<RateState> {
    const next = await this.change(registry, (item) => ({ ...item, state: change(item.state) }));
    return next.state;
  }

  async reserve(registry: string, count: number, intervalMs: number, now: number): Promise<number> {
    let first = now;
    await this.change(registry, (item) => {
      first = Math.max(item.tat, now);
      return { ...item, tat: first + count * intervalMs };
    });
    return first;
  }

  private async change(registry: string, apply: (item: RateItem) => RateItem): Promise<RateItem> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const current = await this.read(registry);
      const next = { ...apply(current), version: current.version + 1 };
      try {
        await this.doc.send(new PutCommand({
          TableName: this.table,
          Item: {
            [PARTITION_KEY]: ratePk(registry), state: next.state, tat: next.tat, version: next.version,
            [TTL_ATTRIBUTE]: Math.ceil(Date.now() / 1000) + TTL_SECONDS,
          },
          ConditionExpression: current.version === 0 ? 'attribute_not_exists(#pk)' : 'version = :v',
          ...(current.version === 0 ? { ExpressionAttributeNames: { '#pk': PARTITION_KEY } } : { ExpressionAttributeValues: { ':v': current.version } }),
        }));
        return next;
      } catch (err) {
        if (awsErrorName(err) !== 'ConditionalCheckFailedException') throw wrapAwsError('dynamodb', 'PutItem', this.table, err);
        // Another worker changed it first: read again.
      }
    }
    throw new AwsBackendError('dynamodb', 'PutItem', this.table, `rate state of ${registry}: gave up after ${MAX_ROUNDS} lost races`);
  }

  private async read(registry: string): Promise<RateItem> {
    try {
      const res = await this.doc.send(new GetCommand({ TableName: this.table, Key: { [PARTITION_KEY]: ratePk(registry) }, ConsistentRead: true }));
      const item = res.Item;
      if (!item) return { state: {}, tat: 0, version: 0 };
      return {
        state: typeof item.state === 'object' && item.state !== null ? item.state as RateState : {},
        tat: typeof item.tat === 'number' ? item.tat : 0,
        version: typeof item.version === 'number' ? item.version : 0,
      };
    } catch (err) {
      throw wrapAwsError('dynamodb', 'GetItem', this.table, err);
    }
  }
}
