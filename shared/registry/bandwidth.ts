// A bytes-per-second cap shared by every stream of a process (worker.bandwidth), so many
// concurrent blob transfers together stay under one limit.
import { Transform, type TransformCallback } from 'node:stream';
import { TokenBucket } from './token-bucket.js';

export class BandwidthLimiter {
  private readonly bucket: TokenBucket;

  /** `bytesPerSecond` 0 = unlimited. The burst is a quarter second, so the cap holds over short windows. */
  constructor(readonly bytesPerSecond: number) {
    this.bucket = new TokenBucket({ ratePerSecond: bytesPerSecond, burst: Math.max(64 * 1024, bytesPerSecond / 4) });
  }

  get unlimited(): boolean {
    return this.bucket.unlimited;
  }

  take(bytes: number, signal?: AbortSignal): Promise<void> {
    return this.bucket.take(bytes, signal);
  }

  /** A pass-through stream that delays chunks to honour the limit. */
  stream(): Transform {
    return throttleStream(this);
  }
}

export function throttleStream(limiter: BandwidthLimiter): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (limiter.unlimited) {
        callback(null, chunk);
        return;
      }
      limiter.take(chunk.length).then(() => callback(null, chunk), callback);
    },
  });
}
