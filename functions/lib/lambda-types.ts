// The few Lambda event and context shapes ferry's handlers use (a subset of the shapes in
// @types/aws-lambda, written out so the handlers carry no extra dependency).

export interface LambdaContext {
  awsRequestId: string;
  functionName: string;
  getRemainingTimeInMillis(): number;
}

/** Function URL / HTTP API payload format 2.0. */
export interface FunctionUrlEvent {
  version: '2.0';
  rawPath: string;
  rawQueryString: string;
  headers?: Record<string, string | undefined>;
  queryStringParameters?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded: boolean;
  requestContext: { http: { method: string; path: string; sourceIp?: string }; requestId?: string };
}

export interface FunctionUrlResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** An EventBridge event delivered straight to the function by a rule. */
export interface EventBridgeEvent {
  version?: string;
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  region: string;
  time?: string;
  resources?: string[];
  detail: unknown;
}

export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: { ApproximateReceiveCount?: string; SentTimestamp?: string; [name: string]: string | undefined };
  messageAttributes?: Record<string, unknown>;
  eventSource?: string;
  eventSourceARN?: string;
  awsRegion?: string;
}

export interface SqsEvent {
  Records: SqsRecord[];
}

export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export function isFunctionUrlEvent(event: unknown): event is FunctionUrlEvent {
  return typeof event === 'object' && event !== null && 'requestContext' in event && 'rawPath' in event;
}

export function isEventBridgeEvent(event: unknown): event is EventBridgeEvent {
  return typeof event === 'object' && event !== null && 'detail-type' in event && 'source' in event;
}
