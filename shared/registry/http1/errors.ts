// Failures of the HTTP/1.1 client that have no HTTP answer. The codes are what retry and
// job classification look at; Node's own socket errors (ECONNRESET, ...) pass through as-is.

export type HttpClientErrorCode =
  | 'HTTP_CONNECT_TIMEOUT'
  | 'HTTP_HEADERS_TIMEOUT'
  | 'HTTP_BODY_TIMEOUT'
  /** The connection closed before the response (or its body) was complete. */
  | 'HTTP_SOCKET_CLOSED'
  /** The server sent something that is not HTTP/1.x. */
  | 'HTTP_PROTOCOL'
  /** A request body stream ended before, or ran past, its declared Content-Length. */
  | 'HTTP_BODY_LENGTH'
  | 'HTTP_CLIENT_CLOSED';

export class HttpClientError extends Error {
  override readonly name = 'HttpClientError';

  constructor(message: string, readonly code: HttpClientErrorCode, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export const HTTP_TIMEOUT_CODES: ReadonlySet<string> = new Set(['HTTP_CONNECT_TIMEOUT', 'HTTP_HEADERS_TIMEOUT', 'HTTP_BODY_TIMEOUT']);

/** Why a request stopped when its signal fired: the signal's own reason, or an AbortError. */
export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('the request was aborted');
  err.name = 'AbortError';
  return err;
}
