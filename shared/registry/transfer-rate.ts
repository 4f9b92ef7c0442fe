// The floor under a transfer's speed, as curl's --speed-limit/--speed-time: a transfer that
// moved fewer than `bytesPerSecond` x `windowMs` bytes over the last window is too slow.
// Idle timeouts alone never fire for a source that sends a byte now and then.
import type { Readable } from 'node:stream';

export interface RateFloor {
  /** 0 = no floor. */
  bytesPerSecond: number;
  windowMs: number;
}

export const DEFAULT_RATE_FLOOR: RateFloor = { bytesPerSecond: 1024, windowMs: 60_000 };

/** Pure bookkeeping: bytes counted as they pass, judged against the floor when asked. */
export class TransferRate {
  private total = 0;
  /** (time, total bytes) when sampled; the oldest kept is at or before the window start. */
  private readonly samples: Array<{ at: number; total: number }>;

  constructor(private readonly floor: RateFloor, private readonly startedAt: number) {
    this.samples = [{ at: startedAt, total: 0 }];
  }

  add(bytes: number): void {
    this.total += bytes;
  }

  /** Records where the transfer stands at `now`; true when the last full window moved too little. */
  tooSlow(now: number): boolean {
    if (this.floor.bytesPerSecond <= 0) return false;
    this.samples.push({ at: now, total: this.total });
    const windowStart = now - this.floor.windowMs;
    while (this.samples.length > 1 && this.samples[1]!.at <= windowStart) this.samples.shift();
    if (now - this.startedAt < this.floor.windowMs) return false;
    const moved = this.total - this.samples[0]!.total;
    return moved < (this.floor.bytesPerSecond * this.floor.windowMs) / 1000;
  }

  /** Bytes moved over the last window (as of the latest `tooSlow` call). */
  movedInWindow(): number {
    return this.total - this.samples[0]!.total;
  }
}

/**
 * Watches the bytes a stream receives (every chunk its producer pushes: a stalled reader
 * stalls the producer too, so a slow destination counts as well as a slow source) and
 * calls `onTooSlow` once when the floor is not met; stops when the stream closes.
 */
export function watchTransferRate(stream: Readable, floor: RateFloor, onTooSlow: (moved: number) => void, now: () => number = Date.now): void {
  if (floor.bytesPerSecond <= 0) return;
  const rate = new TransferRate(floor, now());
  // Counting at push keeps the hot path free of an extra stream stage.
  const push = stream.push.bind(stream);
  stream.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk !== null && chunk !== undefined) rate.add((chunk as { length: number }).length);
    return push(chunk, encoding);
  };
  const timer = setInterval(() => {
    if (!rate.tooSlow(now())) return;
    clearInterval(timer);
    onTooSlow(rate.movedInWindow());
  }, Math.min(1000, Math.max(50, floor.windowMs / 10)));
  timer.unref();
  stream.once('close', () => clearInterval(timer));
}
