// What a host can decide about a webhook post from its request line and headers alone,
// before it reads a byte of the body: wrong path or method, unknown registry, a declared
// length over the limit, and every proof but a body signature. Refusing these up front
// keeps unauthenticated senders from making the host buffer bodies (see authenticate.ts).
import type { RegistryConfig } from '../config/schema.js';
import type { FerryConfig } from '../config/schema.js';
import type { WebhookRequest } from '../events/types.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { FerryMetrics } from '../observability/metrics.js';
import { authenticateHeaders } from './authenticate.js';
import { MAX_WEBHOOK_BODY_BYTES, type IngestResponse } from './ingest.js';

export type WebhookHead = Omit<WebhookRequest, 'body'> & {
  /** Content-Length when the sender declared one. */
  declaredLength?: number;
};

export type ScreenResult =
  | { response: IngestResponse }
  /** Read the body and hand the request to ingest; `verified`: the sender already proved itself. */
  | { verified: boolean };

const WEBHOOK_PATH = /^\/webhooks\/([^/]+)\/?$/;

function registryOf(path: string, registries: Record<string, RegistryConfig>): { name: string; registry: RegistryConfig } | undefined {
  const m = WEBHOOK_PATH.exec(path);
  if (!m) return undefined;
  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
  return Object.hasOwn(registries, name) ? { name, registry: registries[name]! } : undefined;
}

export function createWebhookScreen(deps: { config: FerryConfig; logger?: Logger; metrics?: FerryMetrics }): (head: WebhookHead) => ScreenResult {
  const logger = deps.logger ?? silentLogger;
  return (head) => {
    const found = registryOf(head.path, deps.config.registries);
    // Bad paths, methods and names: ingest answers them (cheaply) with its own wording.
    if (!found || head.method.toUpperCase() !== 'POST') return { verified: false };
    const answer = (status: number, error: string, detail: string): ScreenResult => {
      try {
        deps.metrics?.webhookRequests.inc({ registry: found.name, status: String(status) });
      } catch {
        // Metrics must never turn an answer into a failure.
      }
      return { response: { status, body: { error, detail } } };
    };
    if (head.declaredLength !== undefined && head.declaredLength > MAX_WEBHOOK_BODY_BYTES) {
      return answer(413, 'payload too large', `webhook bodies are limited to ${MAX_WEBHOOK_BODY_BYTES} bytes`);
    }
    const auth = authenticateHeaders(found.registry, head);
    if ('needsBody' in auth) return { verified: false };
    if (!auth.ok) {
      logger.warn({ registry: found.name, reason: auth.reason }, 'webhook rejected: authentication');
      return answer(401, 'unauthorized', auth.reason);
    }
    return { verified: true };
  };
}
