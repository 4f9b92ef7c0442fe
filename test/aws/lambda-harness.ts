// What AWS itself does around the Lambda functions, reproduced locally so the real handler
// modules run end to end: a Function URL in front of the webhook handler, the SQS event
// source mapping in front of the worker handler, and the one Secrets Manager call the
// functions make at cold start (GetSecretValue).
import {
  DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient,
} from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Message } from '@aws-sdk/client-sqs';
import type { Context, LambdaFunctionURLEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { FunctionUrlResult } from '../../functions/webhook.js';

/** A payload-2.0 event as a Function URL delivers it (the fields ferry reads, the rest filled as AWS fills them). */
export function functionUrlEvent(fields: { method?: string; path: string; query?: string; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean }): LambdaFunctionURLEvent {
  const query = fields.query ?? '';
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: fields.path,
    rawQueryString: query,
    headers: fields.headers ?? {},
    ...(query ? { queryStringParameters: Object.fromEntries(new URLSearchParams(query)) } : {}),
    ...(fields.body !== undefined ? { body: fields.body } : {}),
    isBase64Encoded: fields.isBase64Encoded ?? false,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'function-url',
      domainName: 'function-url.lambda-url.us-east-1.on.aws',
      domainPrefix: 'function-url',
      http: { method: fields.method ?? 'POST', path: fields.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
  };
}

/** An SQS event record for a received message, as the event source mapping builds it. */
export function sqsRecord(m: Message, queueArn = 'arn:aws:sqs:us-east-1:000000000000:ferry-jobs'): SQSRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

/** The invocation context a function gets, counting down from `remainingMs`. */
export function lambdaContext(functionName: string, remainingMs: () => number): Context {
  const fail = (): never => {
    throw new Error('the callback API is not used by ferry');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: remainingMs,
    done: fail,
    fail,
    succeed: fail,
  };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export interface FunctionUrl {
  url: string;
  /** Every request, as the handler saw it, with its answer. */
  calls: Array<{ event: LambdaFunctionURLEvent; result: FunctionUrlResult }>;
  stop(): Promise<void>;
}

/** An HTTP server that turns each request into a payload-2.0 event for `handler`, like a Function URL. */
export async function startFunctionUrl(handler: (event: LambdaFunctionURLEvent) => Promise<unknown>): Promise<FunctionUrl> {
  const calls: FunctionUrl['calls'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://function-url');
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
      const body = Buffer.concat(chunks);
      // Function URLs base64-encode bodies that are not text; JSON arrives as text.
      const text = /json|text/.test(headers['content-type'] ?? '');
      const event = functionUrlEvent({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.search.slice(1),
        headers,
        ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
        isBase64Encoded: body.length > 0 && !text,
      });
      handler(event).then((raw) => {
        const result = raw as FunctionUrlResult;
        calls.push({ event, result });
        res.writeHead(result.statusCode, result.headers).end(result.body);
      }, (err: unknown) => {
        // Lambda answers an unhandled error with 502.
        res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: (err as Error).message }));
      });
    });
  });
  const url = await listen(server);
  return { url, calls, stop: () => close(server) };
}

export interface EventSourceMapping {
  /** Each invocation: the records handed over and what the handler answered (or threw). */
  invocations: Array<{ messageIds: string[]; response?: SQSBatchResponse; error?: string }>;
  stop(): Promise<void>;
}

export interface EventSourceMappingOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  batchSize: number;
  /** The function timeout; getRemainingTimeInMillis counts down from it. */
  timeoutMs: number;
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
}

/**
 * The SQS event source mapping with ReportBatchItemFailures: receive up to batchSize
 * records, invoke, delete the records not reported as failures; reported failures (and
 * everything after an invocation error) stay and become visible again on their own.
 */
export function startEventSourceMapping(options: EventSourceMappingOptions): EventSourceMapping {
  const { sqs, queueUrl } = options;
  const invocations: EventSourceMapping['invocations'] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      let messages;
      try {
        const res = await sqs.send(new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: options.batchSize,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
        }));
        messages = res.Messages ?? [];
      } catch {
        if (stopped) break;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (messages.length === 0) continue;
      const event: SQSEvent = { Records: messages.map((m) => sqsRecord(m, options.queueArn)) };
      const started = Date.now();
      const context = lambdaContext('ferry-worker', () => Math.max(0, options.timeoutMs - (Date.now() - started)));
      const invocation: EventSourceMapping['invocations'][number] = { messageIds: event.Records.map((r) => r.messageId) };
      invocations.push(invocation);
      try {
        invocation.response = await options.handler(event, context);
      } catch (err) {
        invocation.error = (err as Error).message;
        continue;
      }
      const failed = new Set(invocation.response.batchItemFailures.map((f) => f.itemIdentifier));
      const done = messages.filter((m) => !failed.has(m.MessageId!));
      if (done.length > 0) {
        // The runner usually deleted these already; deleting again is harmless, as in AWS.
        await sqs.send(new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        })).catch(() => undefined);
      }
    }
  })();
  return {
    invocations,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

export async function queueArnOf(sqs: SQSClient, queueUrl: string): Promise<string> {
  const res = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return res.Attributes?.QueueArn ?? `arn:aws:sqs:us-east-1:000000000000:${queueUrl.split('/').pop()}`;
}

export interface SecretsManagerEndpoint {
  endpoint: string;
  /** ARNs asked for, in order (cold starts fetch; warm invocations must not). */
  requests: string[];
  stop(): Promise<void>;
}

/** Answers GetSecretValue (JSON 1.1 protocol) for the given ARN -> SecretString map. */
export async function startSecretsManager(secrets: Record<string, string>): Promise<SecretsManagerEndpoint> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(body));
      if (target !== 'secretsmanager.GetSecretValue') return reply(400, { __type: 'InvalidRequestException', message: `unsupported ${target}` });
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId: string };
      requests.push(SecretId);
      const value = secrets[SecretId];
      if (value === undefined) return reply(400, { __type: 'ResourceNotFoundException', message: `Secrets Manager can't find the specified secret ${SecretId}` });
      return reply(200, { ARN: SecretId, Name: SecretId.split(':').pop(), SecretString: value, VersionId: 'v1', VersionStages: ['AWSCURRENT'], CreatedDate: 0 });
    });
  });
  const endpoint = await listen(server);
  return { endpoint, requests, stop: () => close(server) };
}
