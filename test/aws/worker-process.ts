// One Lambda worker runtime in a process of its own: the real worker handler (functions/
// worker.ts, its own module state: registry clients, rate controllers, blob flights) behind
// the SQS event source mapping of lambda-harness.ts. The environment carries what the
// function's environment carries in AWS (queue, table, config file) plus emulator endpoints.
// SIGTERM stops it after the invocation in flight.
import { SQSClient } from '@aws-sdk/client-sqs';
import { startEventSourceMapping, queueArnOf } from './lambda-harness.js';

const env = process.env;
const sqs = new SQSClient({
  region: env.AWS_REGION ?? 'us-east-1',
  ...(env.AWS_ENDPOINT_URL_SQS ? { endpoint: env.AWS_ENDPOINT_URL_SQS } : {}),
  useQueueUrlAsEndpoint: false,
});
const queueUrl = env.FERRY_QUEUE_URL!;
const worker = await import('../../functions/worker.js');
const esm = startEventSourceMapping({
  sqs, queueUrl, queueArn: await queueArnOf(sqs, queueUrl), batchSize: 2, timeoutMs: 120_000, handler: worker.handler,
});
process.stdout.write('worker ready\n');
process.on('SIGTERM', () => {
  void esm.stop().finally(() => process.exit(0));
});
