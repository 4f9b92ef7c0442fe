// Lambda: the webhook. Two ways in:
//  - the Function URL (payload 2.0): translated to a WebhookRequest for the shared intake,
//    which authenticates with the registry's webhook secret (the URL itself is public);
//  - an EventBridge rule delivering "ECR Image Action" events directly: AWS already
//    authenticated the invoke (IAM), so these go through an intake for the matching ECR
//    registry that does not ask for a webhook secret.
import type { FerryConfig } from '../shared/config/schema.js';
import { createIngest, type Ingest, type IngestResponse } from '../shared/intake/ingest.js';
import type { WebhookRequest } from '../shared/events/types.js';
import type { APIGatewayProxyStructuredResultV2, LambdaFunctionURLEvent } from 'aws-lambda';
import { isEventBridgeEvent, isFunctionUrlEvent, type AnyEventBridgeEvent } from './lib/event-guards.js';
import { lazy, openRuntime, type Env, type Runtime } from './lib/runtime.js';
import { digestPushDelayFromEnv } from '../shared/policy/plan.js';
import { ecrRegistryFor } from './lib/ecr-routing.js';

/** What the webhook answers a Function URL request: always a status, JSON headers and a body. */
export type FunctionUrlResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; headers: Record<string, string>; body: string };

export interface WebhookApp {
  http: Ingest;
  /** Intake for events AWS delivered itself (IAM-authenticated invokes). */
  eventBridge: Ingest;
  runtime: Runtime;
}

/**
 * `env` may set FERRY_DIGEST_PUSH_DELAY (the deferral of digest-only single-platform
 * pushes, default 30 s; see shared/policy/plan.ts); tests shorten it.
 */
export function createWebhookApp(runtime: Runtime, env: Env = process.env): WebhookApp {
  const digestPushDelaySeconds = digestPushDelayFromEnv(env);
  const deps = {
    queue: runtime.backend.queue, store: runtime.backend.store, logger: runtime.logger, metrics: runtime.metrics,
    recordDelivery: (d: Parameters<typeof runtime.backend.control.recordDelivery>[0]) => runtime.backend.control.recordDelivery(d),
    ...(digestPushDelaySeconds !== undefined ? { digestPushDelaySeconds } : {}),
  };
  return {
    http: createIngest({ ...deps, config: runtime.config }),
    eventBridge: createIngest({ ...deps, config: trustEcrRegistries(runtime.config) }),
    runtime,
  };
}

/** ECR registries whose events arrive through EventBridge carry no webhook secret: IAM vouched for the invoke. */
function trustEcrRegistries(config: FerryConfig): FerryConfig {
  const registries: FerryConfig['registries'] = {};
  for (const [name, reg] of Object.entries(config.registries)) {
    const { secret: _secret, secretArn: _arn, ...webhook } = reg.webhook;
    registries[name] = reg.kind === 'ecr' ? { ...reg, webhook: { ...webhook, allowUnauthenticated: true } } : reg;
  }
  return { ...config, registries };
}

export function toWebhookRequest(event: LambdaFunctionURLEvent): WebhookRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const query: Record<string, string | undefined> = { ...event.queryStringParameters };
  const body = event.body === undefined ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  const sourceIp = event.requestContext.http.sourceIp;
  return { method: event.requestContext.http.method, path: event.rawPath, query, headers, body, ...(sourceIp ? { remoteAddress: sourceIp } : {}) };
}

export function toFunctionUrlResult(response: IngestResponse): FunctionUrlResult {
  return {
    statusCode: response.status,
    headers: { 'content-type': 'application/json', ...response.headers },
    body: JSON.stringify(response.body),
  };
}

export class EventBridgeDeliveryError extends Error {
  override readonly name = 'EventBridgeDeliveryError';
}

/**
 * EventBridge retries a failed invoke, so a queue outage (503) must fail the invocation;
 * anything else (ignored, unknown registry) is final and returned for the logs.
 */
export async function handleEventBridge(app: WebhookApp, event: AnyEventBridgeEvent): Promise<IngestResponse> {
  const registry = ecrRegistryFor(app.runtime.config, event);
  if (registry === undefined) {
    app.runtime.logger.warn({ account: event.account, region: event.region, detailType: event['detail-type'], id: event.id }, 'eventbridge: no configured ecr registry matches this event');
    return { status: 200, body: { accepted: 0, ignored: 1, jobs: [], reason: 'no configured ecr registry for this account and region' } };
  }
  const response = await app.eventBridge({
    method: 'POST',
    path: `/webhooks/${registry}`,
    query: {},
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(event)),
  });
  if (response.status >= 500) throw new EventBridgeDeliveryError(`ecr event ${event.id} for registry ${registry}: ${response.status} ${JSON.stringify(response.body)}`);
  return response;
}

export async function handleWebhookEvent(app: WebhookApp, event: unknown): Promise<FunctionUrlResult | IngestResponse> {
  if (isFunctionUrlEvent(event)) return toFunctionUrlResult(await app.http(toWebhookRequest(event)));
  if (isEventBridgeEvent(event)) return handleEventBridge(app, event);
  throw new EventBridgeDeliveryError('unsupported event: expected a Function URL request or an EventBridge ECR Image Action event');
}

const app = lazy(async () => createWebhookApp(await openRuntime({ name: 'webhook', needs: { webhookSecrets: true, registryCredentials: false } })));

export async function handler(event: unknown): Promise<FunctionUrlResult | IngestResponse> {
  let ready: WebhookApp;
  try {
    ready = await app.get();
  } catch (e) {
    // Senders retry on 5xx: a cold start that cannot reach its secrets or config is that.
    if (isFunctionUrlEvent(event)) return toFunctionUrlResult({ status: 503, body: { error: 'webhook unavailable', detail: (e as Error).message } });
    throw e;
  }
  return handleWebhookEvent(ready, event);
}
