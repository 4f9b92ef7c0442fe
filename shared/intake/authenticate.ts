// Proves a webhook post comes from the configured sender, before a byte of it is parsed.
// Every proof needs the registry's webhook.secret; any one valid proof is enough, since
// each is only computable with the secret:
//   Authorization: Bearer <secret> | <secret> verbatim (Harbor) | Basic with password <secret>
//   X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>      (GitHub)
//   X-Gitea-Signature / X-Forgejo-Signature: <hex HMAC>               (Gitea, Forgejo)
//   X-JFrog-Event-Auth: <secret> | <hex HMAC> | sha256=<hex HMAC>    (Artifactory)
//   ?token=<secret>                                                   (Docker Hub, Quay: cannot set headers)
// Comparisons hash both sides first, so timingSafeEqual always sees equal lengths and the
// time taken reveals neither the secret nor its length.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { RegistryConfig } from '../config/schema.js';
import type { WebhookRequest } from '../events/types.js';

export type AuthMethod = 'authorization' | 'hmac' | 'event-auth' | 'query-token' | 'unauthenticated';

export type AuthResult =
  | { ok: true; method: AuthMethod }
  | { ok: false; reason: string };

export type AuthRequest = Pick<WebhookRequest, 'headers' | 'query' | 'body'>;

const HMAC_HEADERS = ['x-hub-signature-256', 'x-gitea-signature', 'x-forgejo-signature'] as const;

function digest(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time equality of two secrets of any length. */
export function secretEquals(given: string | Buffer, expected: string | Buffer): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function hmacHex(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

function signatureMatches(header: string, expectedHex: string): boolean {
  const value = header.trim().replace(/^sha256=/i, '').toLowerCase();
  return secretEquals(value, expectedHex);
}

function authorizationMatches(header: string, secret: string): boolean {
  const value = header.trim();
  const bearer = /^Bearer\s+(.+)$/i.exec(value);
  if (bearer && secretEquals(bearer[1]!.trim(), secret)) return true;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(value);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0 && secretEquals(decoded.slice(colon + 1), secret)) return true;
  }
  return secretEquals(value, secret);
}

export function authenticate(registry: Pick<RegistryConfig, 'webhook'>, request: AuthRequest): AuthResult {
  const secret = registry.webhook.secret;
  if (secret === undefined || secret === '') {
    return registry.webhook.allowUnauthenticated
      ? { ok: true, method: 'unauthenticated' }
      : { ok: false, reason: 'no webhook secret is configured for this registry (set webhook.secret, or webhook.allowUnauthenticated: true)' };
  }
  const headers = request.headers;
  let presented = false;

  const authorization = headers.authorization;
  if (authorization !== undefined) {
    presented = true;
    if (authorizationMatches(authorization, secret)) return { ok: true, method: 'authorization' };
  }

  let expectedHmac: string | undefined;
  const hmac = () => (expectedHmac ??= hmacHex(secret, request.body));
  for (const name of HMAC_HEADERS) {
    const value = headers[name];
    if (value === undefined) continue;
    presented = true;
    if (signatureMatches(value, hmac())) return { ok: true, method: 'hmac' };
  }

  const eventAuth = headers['x-jfrog-event-auth'];
  if (eventAuth !== undefined) {
    presented = true;
    if (secretEquals(eventAuth.trim(), secret) || signatureMatches(eventAuth, hmac())) return { ok: true, method: 'event-auth' };
  }

  const token = request.query.token;
  if (token !== undefined) {
    presented = true;
    if (secretEquals(token, secret)) return { ok: true, method: 'query-token' };
  }

  return { ok: false, reason: presented ? 'webhook credentials do not match' : 'webhook credentials missing' };
}
