// Registry errors carry where they happened (registry, repository, reference, HTTP
// status, OCI error code) and whether retrying can help.

export interface RegistryErrorContext {
  registry: string;
  repository?: string;
  reference?: string;
  /** HTTP status, when a response was received. */
  status?: number;
  /** OCI error code from the response body (MANIFEST_UNKNOWN, BLOB_UNKNOWN, ...), or a ferry code. */
  code?: string;
  /** Milliseconds the registry asked us to wait (Retry-After). */
  retryAfterMs?: number;
  cause?: unknown;
}

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly registry: string;
  readonly repository?: string;
  readonly reference?: string;
  readonly status?: number;
  readonly code?: string;
  readonly retryAfterMs?: number;

  constructor(message: string, ctx: RegistryErrorContext) {
    super(message, ctx.cause === undefined ? undefined : { cause: ctx.cause });
    this.registry = ctx.registry;
    if (ctx.repository !== undefined) this.repository = ctx.repository;
    if (ctx.reference !== undefined) this.reference = ctx.reference;
    if (ctx.status !== undefined) this.status = ctx.status;
    if (ctx.code !== undefined) this.code = ctx.code;
    if (ctx.retryAfterMs !== undefined) this.retryAfterMs = ctx.retryAfterMs;
  }

  /** Network failures, timeouts, transfers below the rate floor, 408, 429 and 5xx may succeed later; the rest will not. */
  get transient(): boolean {
    if (this.code === 'NETWORK' || this.code === 'TIMEOUT' || this.code === 'TOO_SLOW') return true;
    if (this.status === undefined) return false;
    return this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

/** The manifest was fetched but ferry cannot copy it (schema1, unknown media type, bad JSON). */
export class UnsupportedManifestError extends RegistryError {}

/** Bytes streamed did not hash to the digest that named them. Never retried silently into the destination. */
export class DigestMismatchError extends RegistryError {}

export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(header);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}

/** How to fix an untrusted certificate, ending a TLS_CERTIFICATE error; the CLI swaps in its flags. */
export const TLS_TRUST_HINT = 'trust its CA (registry setting tls.ca, or NODE_EXTRA_CA_CERTS) or set tls.verify: false';
