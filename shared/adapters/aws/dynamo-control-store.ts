// ControlStore over the job table (layout in table-schema.ts):
//   CONTROL#POLICY#<name>        { state: PolicyState }
//   CONTROL#DELIVERIES#<registry> { deliveries: Delivery[] (newest first), version }
// A registry's deliveries are one item, bounded by DELIVERY_LIMITS (about 1 KiB each, far
// under the 400 KB item limit); writers append with a conditional put on `version`, so
// concurrent webhook invocations never drop each other's entries.
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DELIVERY_LIMITS, type ControlStore, type Delivery, type PolicyState } from '../../jobs/control-ports.js';
import { systemClock, type Clock } from '../../jobs/ports.js';
import { awsErrorName, wrapAwsError } from './errors.js';
import { PARTITION_KEY } from './table-schema.js';

const policyPk = (name: string) => `CONTROL#POLICY#${name}`;
const deliveriesPk = (registry: string) => `CONTROL#DELIVERIES#${registry}`;
const MAX_ROUNDS = 8;

export class DynamoControlStore implements ControlStore {
  private readonly clock: Clock;

  constructor(private readonly doc: DynamoDBDocumentClient, private readonly table: string, clock?: Clock) {
    this.clock = clock ?? systemClock;
  }

  async getPolicy(name: string): Promise<PolicyState | undefined> {
    const item = await this.get(policyPk(name));
    return item?.state as PolicyState | undefined;
  }

  async putPolicy(state: PolicyState): Promise<void> {
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: { [PARTITION_KEY]: policyPk(state.name), state } }));
    } catch (err) {
      throw wrapAwsError('dynamodb', 'PutItem', this.table, err);
    }
  }

  async recordDelivery(delivery: Delivery): Promise<void> {
    const pk = deliveriesPk(delivery.registry);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const item = await this.get(pk);
      const version = typeof item?.version === 'number' ? item.version : 0;
      const kept = this.fresh((item?.deliveries as Delivery[] | undefined) ?? []);
      const deliveries = [delivery, ...kept].slice(0, DELIVERY_LIMITS.perRegistry);
      try {
        await this.doc.send(new PutCommand({
          TableName: this.table,
          Item: { [PARTITION_KEY]: pk, deliveries, version: version + 1 },
          ConditionExpression: item ? '#v = :v' : 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: item ? { '#v': 'version' } : { '#pk': PARTITION_KEY },
          ...(item ? { ExpressionAttributeValues: { ':v': version } } : {}),
        }));
        return;
      } catch (err) {
        if (awsErrorName(err) === 'ConditionalCheckFailedException') continue;
        throw wrapAwsError('dynamodb', 'PutItem', this.table, err);
      }
    }
    // Losing this many rounds means a flood of deliveries: the record is best effort.
  }

  async listDeliveries(registry: string, limit: number): Promise<Delivery[]> {
    const item = await this.get(deliveriesPk(registry));
    return this.fresh((item?.deliveries as Delivery[] | undefined) ?? []).slice(0, limit);
  }

  private fresh(deliveries: Delivery[]): Delivery[] {
    const since = this.clock.now().getTime() - DELIVERY_LIMITS.maxAgeMs;
    return deliveries.filter((d) => Date.parse(d.at) >= since);
  }

  private async get(pk: string): Promise<Record<string, unknown> | undefined> {
    try {
      const res = await this.doc.send(new GetCommand({ TableName: this.table, Key: { [PARTITION_KEY]: pk }, ConsistentRead: true }));
      return res.Item;
    } catch (err) {
      throw wrapAwsError('dynamodb', 'GetItem', this.table, err);
    }
  }
}
