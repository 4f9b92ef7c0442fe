// Proves a webhook post comes from the configured sender, before a byte of it is parsed.
// Every proof needs the registry's webhook.secret; any one valid proof the registry accepts
// is enough, since each is only computable with the secret:
//   authorization  Authorization: Bearer <secret> | <secret> verbatim (Harbor) | Basic with password <secret>
//   signature      X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>      (GitHub)
//                  X-Gitea-Signature / X-Forgejo-Signature: <hex HMAC>               (Gitea, Forgejo)
//                  X-JFrog-Event-Auth: <hex HMAC> | sha256=<hex HMAC>               (Artifactory)
//   event-auth     X-JFrog-Event-Auth: <secret>                                      (Artifactory, unsigned)
//   query-token    ?token=<secret>                                                   (Docker Hub, Quay: cannot set headers)
// Kinds whose senders sign bodies (github, gitea, artifactory) accept only the signature
// unless webhook.proofs lists more: a leaked URL token must not stand in for a signature.
// Everything but the signature is decided from the headers alone (authenticateHeaders), so
// a host can refuse a post before reading its body.
// Comparisons hash both sides first, so timingSafeEqual always sees equal lengths and the
// time taken reveals neither the secret nor its length.
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { SIGNING_KINDS, WEBHOOK_PROOFS, type RegistryConfig, type WebhookProof } from '../config/schema.js';
import type { WebhookRequest } from '../events/types.js';

export type AuthMethod = WebhookProof | 'unauthenticated';

export type AuthResult =
  | { ok: true; method: AuthMethod }
  | { ok: false; reason: string };

/** From the headers alone: decided, or `needsBody` when only a body signature can still prove it. */
export type HeaderAuthResult = AuthResult | { needsBody: true };

export type AuthRequest = Pick<WebhookRequest, 'headers' | 'query' | 'body'>;
export type AuthRegistry = Pick<RegistryConfig, 'webhook'> & { kind?: RegistryConfig['kind'] };

const SIGNATURE_HEADERS = ['x-hub-signature-256', 'x-gitea-signature', 'x-forgejo-signature', 'x-jfrog-event-auth'] as const;

function digest(value: string | Buffer): Buffer {
  // One-shot hashing: every webhook request compares a secret, and a Hash object costs more.
  return hash('sha256', value, 'buffer');
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

/** The proofs a registry accepts (webhook.proofs, else by kind). */
export function acceptedProofs(registry: AuthRegistry): readonly WebhookProof[] {
  if (registry.webhook.proofs) return registry.webhook.proofs;
  return registry.kind !== undefined && SIGNING_KINDS.includes(registry.kind) ? ['signature'] : WEBHOOK_PROOFS;
}

/** Which proofs a request presents, whatever their value. */
function presentedProofs(request: Pick<AuthRequest, 'headers' | 'query'>): Set<WebhookProof> {
  const out = new Set<WebhookProof>();
  const h = request.headers;
  if (h.authorization !== undefined) out.add('authorization');
  if (SIGNATURE_HEADERS.some((name) => h[name] !== undefined)) out.add('signature');
  if (h['x-jfrog-event-auth'] !== undefined) out.add('event-auth');
  if (request.query.token !== undefined) out.add('query-token');
  return out;
}

function refusal(registry: AuthRegistry, presented: Set<WebhookProof>, accepted: readonly WebhookProof[]): AuthResult {
  if (presented.size === 0) return { ok: false, reason: 'webhook credentials missing' };
  if (![...presented].some((p) => accepted.includes(p))) {
    const kind = registry.kind !== undefined ? `kind ${registry.kind}` : 'this registry';
    return { ok: false, reason: `${kind} accepts only ${accepted.join(', ')} as webhook proof (webhook.proofs); got ${[...presented].join(', ')}` };
  }
  return { ok: false, reason: 'webhook credentials do not match' };
}

/**
 * Everything that can be decided before the body is read: a missing or wrong header proof
 * is refused at once; a body signature the registry accepts needs the body (`needsBody`).
 */
export function authenticateHeaders(registry: AuthRegistry, request: Pick<AuthRequest, 'headers' | 'query'>): HeaderAuthResult {
  const secret = registry.webhook.secret;
  if (secret === undefined || secret === '') {
    return registry.webhook.allowUnauthenticated
      ? { ok: true, method: 'unauthenticated' }
      : { ok: false, reason: 'no webhook secret is configured for this registry (set webhook.secret, or webhook.allowUnauthenticated: true)' };
  }
  const accepted = acceptedProofs(registry);
  const headers = request.headers;
  const presented = presentedProofs(request);

  if (accepted.includes('authorization') && headers.authorization !== undefined && authorizationMatches(headers.authorization, secret)) {
    return { ok: true, method: 'authorization' };
  }
  const eventAuth = headers['x-jfrog-event-auth'];
  if (accepted.includes('event-auth') && eventAuth !== undefined && secretEquals(eventAuth.trim(), secret)) {
    return { ok: true, method: 'event-auth' };
  }
  const token = request.query.token;
  if (accepted.includes('query-token') && token !== undefined && secretEquals(token, secret)) {
    return { ok: true, method: 'query-token' };
  }
  if (accepted.includes('signature') && presented.has('signature')) return { needsBody: true };
  return refusal(registry, presented, accepted);
}

export function authenticate(registry: AuthRegistry, request: AuthRequest): AuthResult {
  const first = authenticateHeaders(registry, request);
  if (!('needsBody' in first)) return first;
  const secret = registry.webhook.secret!;
  const expected = hmacHex(secret, request.body);
  for (const name of SIGNATURE_HEADERS) {
    const value = request.headers[name];
    if (value !== undefined && signatureMatches(value, expected)) return { ok: true, method: 'signature' };
  }
  return { ok: false, reason: 'webhook credentials do not match' };
}
