// Retry delays, the one formula every retry in ferry uses (job attempts, registry requests,
// upload retries, queue sends, a failing queue receive): exponential from the first delay,
// doubling per attempt, capped, with jitter so that callers failing together (a registry
// outage) do not retry in lockstep.

/** Job retries double per attempt up to 15 minutes (worker.retryDelay, docs/contract.md). */
export const MAX_BACKOFF_MS = 15 * 60_000;
/**
 * A registry's Retry-After is honoured up to 15 minutes, like the backoff itself: a registry
 * (or anything answering in its name) asking for hours would otherwise park a job that long.
 */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

/**
 * full: uniform in [0, d] (spreads best, may retry almost at once);
 * equal: uniform in [d/2, d] (spreads, and still waits at least half);
 * none: exactly d.
 */
export type Jitter = 'full' | 'equal' | 'none';

export interface BackoffOptions {
  /** Delay after the first failed attempt, before jitter. */
  baseMs: number;
  capMs?: number;
  jitter?: Jitter;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
  /** Longest Retry-After honoured (default MAX_RETRY_AFTER_MS); a caller that cannot wait longer caps it. */
  maxRetryAfterMs?: number;
}

/** The un-jittered delay after `attempt` failed attempts (1-based). */
export function exponentialDelayMs(attempt: number, baseMs: number, capMs = MAX_BACKOFF_MS): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  // 2^exponent overflows to Infinity long after the cap: min() handles it.
  return Math.min(capMs, Math.max(0, baseMs) * 2 ** exponent);
}

/** How long to wait before the next attempt, never less than the registry's Retry-After. */
export function backoffDelayMs(attempt: number, options: BackoffOptions, retryAfterMs?: number): number {
  const d = exponentialDelayMs(attempt, options.baseMs, options.capMs);
  const r = (options.random ?? Math.random)();
  const jitter = options.jitter ?? 'equal';
  const jittered = jitter === 'full' ? r * d : jitter === 'equal' ? d / 2 + (r * d) / 2 : d;
  const floor = retryAfterMs === undefined ? 0 : Math.min(options.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS, Math.max(0, retryAfterMs));
  return Math.round(Math.max(jittered, floor));
}
