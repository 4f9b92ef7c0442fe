// One error type for failed SQS / DynamoDB calls, naming the service, the operation and
// the resource, so a log line says which queue or table misbehaved.

export class AwsBackendError extends Error {
  override readonly name = 'AwsBackendError';
  readonly service: 'sqs' | 'dynamodb';
  readonly operation: string;
  /** Queue URL or table name. */
  readonly resource: string;
  /** AWS error code (the SDK exception name), when the service answered. */
  readonly code?: string;
  /** HTTP status of the service's answer, when there was one. */
  readonly status?: number;

  constructor(service: 'sqs' | 'dynamodb', operation: string, resource: string, detail: string, options: { code?: string; status?: number } = {}) {
    super(`${service} ${operation} on ${resource}: ${detail}`);
    this.service = service;
    this.operation = operation;
    this.resource = resource;
    if (options.code !== undefined) this.code = options.code;
    if (options.status !== undefined) this.status = options.status;
  }
}

/** The SDK exception name (ConditionalCheckFailedException, QueueDoesNotExist, ...). */
export function awsErrorName(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'name' in err && typeof err.name === 'string') return err.name;
  return undefined;
}

/**
 * The SDK error is not kept as `cause`: it drags the whole HTTP response along, which
 * buries the one line that matters in every log.
 */
export function wrapAwsError(service: 'sqs' | 'dynamodb', operation: string, resource: string, err: unknown): AwsBackendError {
  if (err instanceof AwsBackendError) return err;
  const code = awsErrorName(err);
  const detail = err instanceof Error ? err.message : String(err);
  const status = httpStatusOf(err);
  return new AwsBackendError(service, operation, resource, code ? `${code}: ${detail}` : detail, {
    ...(code ? { code } : {}),
    ...(status !== undefined ? { status } : {}),
  });
}

function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('$metadata' in err)) return undefined;
  const meta = (err as { $metadata?: { httpStatusCode?: unknown } }).$metadata;
  return typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : undefined;
}
