import { describe, expect, it } from 'vitest';
import { backoffDelayMs, exponentialDelayMs, MAX_BACKOFF_MS, MAX_RETRY_AFTER_MS } from '../../shared/retry/backoff.js';

describe('backoff', () => {
  it('starts at the first delay and doubles per attempt', () => {
    expect([1, 2, 3, 4, 5].map((a) => exponentialDelayMs(a, 5000))).toEqual([5000, 10_000, 20_000, 40_000, 80_000]);
  });

  it('is capped at 15 minutes, even for absurd attempt counts', () => {
    expect(exponentialDelayMs(9, 5000)).toBe(MAX_BACKOFF_MS);
    expect(exponentialDelayMs(5000, 5000)).toBe(MAX_BACKOFF_MS);
    expect(backoffDelayMs(100, { baseMs: 5000, jitter: 'none' })).toBe(15 * 60_000);
  });

  it('full jitter stays within [0, d] and spans it', () => {
    expect(backoffDelayMs(3, { baseMs: 1000, jitter: 'full', random: () => 0 })).toBe(0);
    expect(backoffDelayMs(3, { baseMs: 1000, jitter: 'full', random: () => 0.999999 })).toBe(4000);
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelayMs(3, { baseMs: 1000, jitter: 'full' });
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });

  it('equal jitter stays within [d/2, d], so delays still grow', () => {
    expect(backoffDelayMs(3, { baseMs: 1000, jitter: 'equal', random: () => 0 })).toBe(2000);
    expect(backoffDelayMs(3, { baseMs: 1000, jitter: 'equal', random: () => 0.999999 })).toBe(4000);
    const samples = Array.from({ length: 1000 }, () => backoffDelayMs(3, { baseMs: 1000 }));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(4000);
    // Jitter actually spreads the retries (no lockstep).
    expect(new Set(samples).size).toBeGreaterThan(100);
  });

  it('never waits less than the registry\'s Retry-After', () => {
    expect(backoffDelayMs(1, { baseMs: 1000, jitter: 'none' }, 30_000)).toBe(30_000);
    expect(backoffDelayMs(1, { baseMs: 1000, jitter: 'none' }, 10)).toBe(1000);
    // Retry-After is capped at 15 minutes, like the backoff.
    expect(MAX_RETRY_AFTER_MS).toBe(15 * 60_000);
    expect(backoffDelayMs(1, { baseMs: 1000, jitter: 'none' }, 10 * 60_000)).toBe(10 * 60_000);
    expect(backoffDelayMs(1, { baseMs: 1000 }, 3_600_000)).toBe(MAX_RETRY_AFTER_MS);
    expect(backoffDelayMs(1, { baseMs: 1000 }, 99_999_999_000)).toBe(MAX_RETRY_AFTER_MS);
  });
});
