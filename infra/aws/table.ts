// The job table as the DynamoDB JobStore adapter uses it (shared/adapters/aws/table-schema.ts
// is the single source of keys, indexes and TTL), and the item actions each role needs.
import { aws_dynamodb as dynamodb } from 'aws-cdk-lib';
import { JOB_TABLE_SCHEMA } from '../../shared/adapters/aws/table-schema.js';

const S = dynamodb.AttributeType.STRING;

export const JOB_TABLE = {
  keys: { partitionKey: { name: JOB_TABLE_SCHEMA.partitionKey, type: S } } satisfies Pick<dynamodb.TableProps, 'partitionKey'>,
  indexes: JOB_TABLE_SCHEMA.indexes.map((ix): dynamodb.GlobalSecondaryIndexProps => ({
    indexName: ix.indexName,
    partitionKey: { name: ix.partitionKey, type: S },
    sortKey: { name: ix.sortKey, type: S },
    projectionType: dynamodb.ProjectionType.ALL,
  })),
  ttlAttribute: JOB_TABLE_SCHEMA.ttlAttribute,
};

/** Item-level actions only: no table management (CreateTable is createMissing, dev/test only). */
export const TABLE_ACTIONS = {
  /** Create job records (conditional puts, coalescing pointers). */
  enqueue: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
  /** Run jobs: transitions, key leases, the blob index. */
  run: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
  /** Inspect, replay, sync. */
  admin: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
};
