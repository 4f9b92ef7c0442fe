// Finds (and, with createMissing, creates) the jobs queue, its DLQ and the job table.
// Creation is for development and tests; production resources come from the CDK stack.
import {
  CreateTableCommand,
  DescribeTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FerryConfig } from '../../config/schema.js';
import { AwsBackendError, awsErrorName, wrapAwsError } from './errors.js';
import { JOB_TABLE_SCHEMA } from './table-schema.js';

export type AwsConfig = NonNullable<FerryConfig['aws']>;

export interface AwsResources {
  queueUrl: string;
  deadLetterQueueUrl: string;
  table: string;
}

export const DEFAULT_QUEUE_NAME = 'ferry-jobs';
/** The SQS maximum: dead letters wait for a human, who may be on holiday. */
const RETENTION_SECONDS = String(14 * 24 * 3600);

/** The queue name is the last path segment of its URL. */
export function queueNameFromUrl(url: string): string {
  const name = url.replace(/\/+$/, '').split('/').pop();
  if (!name) throw new Error(`cannot take a queue name from URL ${JSON.stringify(url)}`);
  return name;
}

/** CreateTable input for the job table (the layout lives in table-schema.ts). */
export function jobTableDefinition(table: string): CreateTableCommandInput {
  const keyAttributes = new Set<string>([JOB_TABLE_SCHEMA.partitionKey]);
  for (const index of JOB_TABLE_SCHEMA.indexes) {
    keyAttributes.add(index.partitionKey);
    keyAttributes.add(index.sortKey);
  }
  return {
    TableName: table,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...keyAttributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [{ AttributeName: JOB_TABLE_SCHEMA.partitionKey, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: JOB_TABLE_SCHEMA.indexes.map((index) => ({
      IndexName: index.indexName,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  };
}

/**
 * Resolves the three resources. Without createMissing, the queue URL must be configured;
 * the DLQ URL may be left out and is then found through the queue's redrive policy.
 */
export async function resolveAwsResources(
  clients: { sqs: SQSClient; dynamodb: DynamoDBClient },
  aws: AwsConfig,
  options: { maxAttempts: number },
): Promise<AwsResources> {
  if (aws.createMissing) {
    const queueName = aws.queueUrl ? queueNameFromUrl(aws.queueUrl) : DEFAULT_QUEUE_NAME;
    const dlqName = aws.deadLetterQueueUrl ? queueNameFromUrl(aws.deadLetterQueueUrl) : `${queueName}-dlq`;
    const deadLetterQueueUrl = await ensureQueue(clients.sqs, dlqName, { MessageRetentionPeriod: RETENTION_SECONDS });
    const dlqArn = await queueAttribute(clients.sqs, deadLetterQueueUrl, 'QueueArn');
    if (!dlqArn) throw new AwsBackendError('sqs', 'GetQueueAttributes', deadLetterQueueUrl, 'no QueueArn in the answer');
    const queueUrl = await ensureQueue(clients.sqs, queueName, {
      MessageRetentionPeriod: RETENTION_SECONDS,
      // Catches messages no worker ever acks (poison messages, crashing workers).
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxAttempts }),
    });
    await ensureTable(clients.dynamodb, aws.table);
    return { queueUrl, deadLetterQueueUrl, table: aws.table };
  }

  if (!aws.queueUrl) {
    throw new Error('aws.queueUrl is not set: configure the jobs queue URL (or set aws.createMissing: true for development)');
  }
  const deadLetterQueueUrl = aws.deadLetterQueueUrl ?? (await deadLetterQueueOf(clients.sqs, aws.queueUrl));
  return { queueUrl: aws.queueUrl, deadLetterQueueUrl, table: aws.table };
}

async function ensureQueue(sqs: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  const existing = await queueUrlByName(sqs, name);
  if (existing) return existing; // an existing queue keeps its settings
  try {
    const res = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (!res.QueueUrl) throw new AwsBackendError('sqs', 'CreateQueue', name, 'no QueueUrl in the answer');
    return res.QueueUrl;
  } catch (err) {
    // Lost a creation race to another process: use theirs.
    const raced = await queueUrlByName(sqs, name);
    if (raced) return raced;
    throw wrapAwsError('sqs', 'CreateQueue', name, err);
  }
}

async function queueUrlByName(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (err) {
    const code = awsErrorName(err);
    if (code === 'QueueDoesNotExist' || code === 'AWS.SimpleQueueService.NonExistentQueue') return undefined;
    throw wrapAwsError('sqs', 'GetQueueUrl', name, err);
  }
}

async function queueAttribute(sqs: SQSClient, queueUrl: string, name: 'QueueArn' | 'RedrivePolicy'): Promise<string | undefined> {
  try {
    const res = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [name] }));
    return res.Attributes?.[name];
  } catch (err) {
    throw wrapAwsError('sqs', 'GetQueueAttributes', queueUrl, err);
  }
}

async function deadLetterQueueOf(sqs: SQSClient, queueUrl: string): Promise<string> {
  const policy = await queueAttribute(sqs, queueUrl, 'RedrivePolicy');
  let arn: unknown;
  try {
    arn = policy ? (JSON.parse(policy) as { deadLetterTargetArn?: unknown }).deadLetterTargetArn : undefined;
  } catch {
    arn = undefined;
  }
  if (typeof arn !== 'string') {
    throw new AwsBackendError('sqs', 'GetQueueAttributes', queueUrl, 'the queue has no redrive policy naming a dead-letter queue; set aws.deadLetterQueueUrl');
  }
  const name = arn.split(':').pop() ?? '';
  const url = await queueUrlByName(sqs, name);
  if (!url) throw new AwsBackendError('sqs', 'GetQueueUrl', name, `dead-letter queue ${arn} of the redrive policy does not exist`);
  return url;
}

async function ensureTable(dynamodb: DynamoDBClient, table: string): Promise<void> {
  try {
    await dynamodb.send(new DescribeTableCommand({ TableName: table }));
    return;
  } catch (err) {
    if (awsErrorName(err) !== 'ResourceNotFoundException') throw wrapAwsError('dynamodb', 'DescribeTable', table, err);
  }
  try {
    await dynamodb.send(new CreateTableCommand(jobTableDefinition(table)));
  } catch (err) {
    // ResourceInUse: another process is creating it; wait for it below like for ours.
    if (awsErrorName(err) !== 'ResourceInUseException') throw wrapAwsError('dynamodb', 'CreateTable', table, err);
  }
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: table });
  try {
    await dynamodb.send(new UpdateTimeToLiveCommand({
      TableName: table,
      TimeToLiveSpecification: { AttributeName: JOB_TABLE_SCHEMA.ttlAttribute, Enabled: true },
    }));
  } catch {
    // Emulators (dynalite) lack UpdateTimeToLive; records then simply do not expire.
  }
}
