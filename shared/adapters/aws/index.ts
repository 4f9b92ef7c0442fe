// The AWS backend: SQS (jobs queue + DLQ) and DynamoDB (job table) behind the JobQueue,
// JobStore, BlobIndex and RateStore ports.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Backend, Clock } from '../../jobs/ports.js';
import { DynamoBlobIndex } from './dynamo-blob-index.js';
import { DynamoRateStore } from './dynamo-rate-store.js';
import { DynamoControlStore } from './dynamo-control-store.js';
import { DynamoJobStore } from './dynamo-store.js';
import { resolveAwsResources, type AwsConfig, type AwsResources } from './setup.js';
import { SqsJobQueue } from './sqs-queue.js';

export { AwsBackendError } from './errors.js';
export { DynamoJobStore, type DynamoJobStoreOptions } from './dynamo-store.js';
export { DynamoBlobIndex, type DynamoBlobIndexOptions } from './dynamo-blob-index.js';
export { DynamoRateStore } from './dynamo-rate-store.js';
export { SqsJobQueue, type SqsJobQueueOptions, DEAD_REASON_ATTRIBUTE, DEAD_AT_ATTRIBUTE } from './sqs-queue.js';
export { resolveAwsResources, jobTableDefinition, queueNameFromUrl, DEFAULT_QUEUE_NAME, type AwsConfig, type AwsResources } from './setup.js';
export { JOB_TABLE_SCHEMA, INDEXES, PARTITION_KEY, TTL_ATTRIBUTE, TIME_SORT_KEY, type IndexDefinition } from './table-schema.js';
export { planBatches, messageSize, SQS_MAX_BATCH_BYTES, SQS_MAX_BATCH_ENTRIES } from './sqs-batching.js';

export interface AwsBackendOptions {
  /** maxReceiveCount of the redrive policy when createMissing creates the queue. Default 5. */
  maxAttempts?: number;
  /** Explicit endpoints (emulators); otherwise the SDK's own AWS_ENDPOINT_URL_SQS / _DYNAMODB handling. */
  endpoints?: { sqs?: string; dynamodb?: string };
  /** Static credentials or a provider; default: the SDK's chain (env, profile, role). */
  credentials?: SQSClientConfig['credentials'];
  clock?: Clock;
  /** DLQ scan tuning (see SqsJobQueueOptions). */
  scanWaitSeconds?: number;
}

/** A Backend plus the resolved resource names (useful for logs and tests). */
export interface AwsBackend extends Backend {
  resources: AwsResources;
}

export async function openAwsBackend(aws: AwsConfig, options: AwsBackendOptions = {}): Promise<AwsBackend> {
  const { sqsEndpoint, dynamodbEndpoint } = endpointsFor(options.endpoints);
  const common = { region: aws.region, ...(options.credentials ? { credentials: options.credentials } : {}) };
  const sqs = new SQSClient({
    ...common,
    ...(sqsEndpoint ? { endpoint: sqsEndpoint } : {}),
    // With a custom endpoint the SDK would otherwise send each call to the host in the
    // queue URL (emulators hand out URLs like http://sqs.us-east-1.localhost:4566/...).
    ...(sqsEndpoint || process.env.AWS_ENDPOINT_URL_SQS || process.env.AWS_ENDPOINT_URL ? { useQueueUrlAsEndpoint: false } : {}),
  });
  const dynamodb = new DynamoDBClient({ ...common, ...(dynamodbEndpoint ? { endpoint: dynamodbEndpoint } : {}) });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    sqs.destroy();
    dynamodb.destroy();
  };
  try {
    const resources = await resolveAwsResources({ sqs, dynamodb }, aws, { maxAttempts: options.maxAttempts ?? 5 });
    const doc = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
    const clock = options.clock ? { clock: options.clock } : {};
    return {
      queue: new SqsJobQueue(sqs, {
        queueUrl: resources.queueUrl,
        deadLetterQueueUrl: resources.deadLetterQueueUrl,
        ...clock,
        ...(options.scanWaitSeconds !== undefined ? { scanWaitSeconds: options.scanWaitSeconds } : {}),
      }),
      store: new DynamoJobStore(doc, { table: resources.table, ...clock }),
      blobIndex: new DynamoBlobIndex(doc, { table: resources.table, ...clock }),
      rateStore: new DynamoRateStore(doc, resources.table),
      control: new DynamoControlStore(doc, resources.table, options.clock),
      resources,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

function endpointsFor(endpoints: AwsBackendOptions['endpoints']): { sqsEndpoint?: string; dynamodbEndpoint?: string } {
  return {
    ...(endpoints?.sqs ? { sqsEndpoint: endpoints.sqs } : {}),
    ...(endpoints?.dynamodb ? { dynamodbEndpoint: endpoints.dynamodb } : {}),
  };
}
