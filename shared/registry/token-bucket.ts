// A token bucket shared by concurrent callers. Callers take tokens up front and wait off
// any debt, so later callers queue behind earlier ones without an explicit queue.
import { sleep } from '../retry/sleep.js';

export interface TokenBucketOptions {
  /** Tokens added per second; 0 or less means unlimited. */
  ratePerSecond: number;
  /** Most tokens that can accumulate while idle (the burst); defaults to one second of rate. */
  burst?: number;
  now?: () => number;
}

export class TokenBucket {
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;
  private available: number;
  private last: number;

  constructor(options: TokenBucketOptions) {
    this.rate = options.ratePerSecond;
    this.burst = Math.max(1, options.burst ?? options.ratePerSecond);
    this.now = options.now ?? Date.now;
    this.available = this.burst;
    this.last = this.now();
  }

  get unlimited(): boolean {
    return !(this.rate > 0);
  }

  /** Milliseconds the caller must wait after taking `n` tokens (0 when there were enough). */
  reserve(n: number): number {
    if (this.unlimited || n <= 0) return 0;
    const now = this.now();
    this.available = Math.min(this.burst, this.available + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    this.available -= n;
    return this.available >= 0 ? 0 : Math.ceil((-this.available / this.rate) * 1000);
  }

  async take(n: number, signal?: AbortSignal): Promise<void> {
    const wait = this.reserve(n);
    if (wait > 0) await sleep(wait, signal);
  }
}
