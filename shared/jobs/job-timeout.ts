// worker.jobTimeout: how long one attempt of a job may run. Heartbeats keep a running job's
// message and lease alive indefinitely, so without this bound a source that trickles bytes
// (or a destination that barely reads them) would hold a worker for as long as it likes.

/** The attempt ran past worker.jobTimeout; transient: retried, then dead-lettered after maxAttempts. */
export class JobTimeoutError extends Error {
  override readonly name = 'JobTimeoutError';

  constructor(readonly timeoutMs: number, interrupted?: unknown) {
    const during = interrupted instanceof Error && !(interrupted instanceof JobTimeoutError) ? ` (cut while: ${interrupted.message})` : '';
    super(`job attempt exceeded worker.jobTimeout (${formatMs(timeoutMs)})${during}`, interrupted === undefined ? undefined : { cause: interrupted });
  }
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * A deadline for one attempt: `signal` fires at `timeoutMs`; `expired()` resolves
 * `graceMs` later, for a caller that must stop waiting on work that ignores its signal.
 */
export function attemptDeadline(timeoutMs: number, graceMs: number): { signal: AbortSignal; expired: Promise<JobTimeoutError>; clear(): void } {
  const controller = new AbortController();
  let late: NodeJS.Timeout | undefined;
  let resolveExpired: (e: JobTimeoutError) => void = () => undefined;
  const expired = new Promise<JobTimeoutError>((resolve) => (resolveExpired = resolve));
  const timer = setTimeout(() => {
    const reason = new JobTimeoutError(timeoutMs);
    controller.abort(reason);
    late = setTimeout(() => resolveExpired(reason), graceMs);
    late.unref();
  }, timeoutMs);
  timer.unref();
  return {
    signal: controller.signal,
    expired,
    clear() {
      clearTimeout(timer);
      clearTimeout(late);
    },
  };
}
