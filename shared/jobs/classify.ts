// Decides whether a failed run may succeed later (retry with backoff) or never will
// (dead-letter now). Unknown errors count as transient: a wasted retry is cheaper than a
// job given up on by mistake, and maxAttempts bounds the cost.
import { DigestMismatchError, RegistryError, UnsupportedManifestError } from '../registry/errors.js';
import { PermanentJobError } from '../replicate/errors.js';
import { JobTimeoutError } from './job-timeout.js';
import type { JobError } from './model.js';

export interface Classification {
  error: JobError;
  /** The registry's Retry-After, when it sent one. */
  retryAfterMs?: number;
}

/** Node's and the HTTP client's socket-level failures: the network, not the request, was at fault. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ESOCKETTIMEDOUT',
]);

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function isNetworkOrTimeout(err: unknown): boolean {
  const code = errorCode(err);
  if (code && (NETWORK_CODES.has(code) || code.startsWith('HTTP_') || code.startsWith('UND_ERR_'))) return true;
  const name = err instanceof Error ? err.name : undefined;
  return name === 'AbortError' || name === 'TimeoutError';
}

/** The error itself and its causes, outermost first (bounded: causes can be cyclic). */
function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let cur: unknown = err;
  while (cur !== undefined && cur !== null && chain.length < 8 && !chain.includes(cur)) {
    chain.push(cur);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return chain;
}

/**
 * Errors about an upload's or a blob's transient state at the destination, not about the
 * artifact: concurrent jobs pushing the same blobs into one repository, a registry that
 * dropped an upload session, a blob not yet committed when a manifest referencing it
 * arrived. The next attempt starts a fresh upload and succeeds.
 */
const UPLOAD_STATE_CODES = new Set(['BLOB_UPLOAD_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN', 'SIZE_INVALID']);

function registryTransient(err: RegistryError): boolean {
  if (err.code !== undefined && UPLOAD_STATE_CODES.has(err.code)) return true;
  if (err.status === 409 || err.status === 416) return true;
  // A corrupted transfer (proxy, truncated stream) may well succeed next time.
  if (err instanceof DigestMismatchError) return true;
  // Schema1, unknown media types, bad JSON: the bytes at the source will not change by waiting.
  if (err instanceof UnsupportedManifestError) return false;
  // The client already refreshed credentials once before throwing 401/403; 404 reaches the
  // runner only for push-only policies (with deletes the job takes the delete path).
  return err.transient;
}

export function classifyError(err: unknown): Classification {
  const message = err instanceof Error ? err.message : String(err);
  const chain = causeChain(err);
  // Whatever the cut-off run was doing when the deadline came, the deadline is the reason.
  if (err instanceof JobTimeoutError) return { error: { message, code: 'JOB_TIMEOUT', transient: true } };
  const reg = chain.find((e): e is RegistryError => e instanceof RegistryError);
  if (reg) {
    const error: JobError = { message, registry: reg.registry, transient: registryTransient(reg) };
    if (reg.status !== undefined) error.status = reg.status;
    if (reg.code !== undefined) error.code = reg.code;
    return reg.retryAfterMs === undefined ? { error } : { error, retryAfterMs: reg.retryAfterMs };
  }
  if (chain.some((e) => e instanceof PermanentJobError)) return { error: { message, code: 'PERMANENT', transient: false } };
  const net = chain.find(isNetworkOrTimeout);
  if (net) {
    const code = errorCode(net) ?? (net instanceof Error && net.name === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK');
    return { error: { message, code, transient: true } };
  }
  return { error: { message, transient: true } };
}
