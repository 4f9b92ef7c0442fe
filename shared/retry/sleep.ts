// The one sleep: node's timers/promises, except that an aborted sleep rejects with the
// signal's own reason (a TimeoutError from AbortSignal.timeout stays a TimeoutError, which
// the job classifier and the registry client report as such) rather than a generic AbortError.
import { setTimeout as delay } from 'node:timers/promises';

export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  }
}

/** Like sleep, but an abort just ends the wait early (for polling loops that check the signal themselves). */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, signal).catch(() => undefined);
}
