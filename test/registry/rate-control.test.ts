// The adaptive rate controller: the pure state changes (AIMD back-off, Retry-After pause,
// pull quota), then the controller pacing real requests in real time.
import { describe, expect, it } from 'vitest';
import {
  currentRate, parsePullQuota, pullPause, quotaSeen, RateController, throttled, type RateEvent, type RateState,
} from '../../shared/registry/rate-control.js';

const T0 = 1_000_000;
const h = (headers: Record<string, string>) => (name: string) => headers[name];

describe('rate state', () => {
  it('has no cap by default, and the explicit ceiling when one is set', () => {
    expect(currentRate({}, {}, T0)).toBe(Infinity);
    expect(currentRate({}, { ceiling: 40 }, T0)).toBe(36); // scheduled at 90% of the ceiling
  });

  it('a 429 on an uncapped registry halves the rate it was seeing, which then climbs back linearly and ends the back-off', () => {
    const s = throttled({}, { status: 429, observedRate: 200 }, {}, T0);
    expect(s).toMatchObject({ limit: 100, since: T0, peak: 200 });
    expect(currentRate(s, {}, T0)).toBe(100);
    expect(currentRate(s, {}, T0 + 2000)).toBeCloseTo(140); // +10% of the peak per second
    expect(currentRate(s, {}, T0 + 4900)).toBeCloseTo(198);
    expect(currentRate(s, {}, T0 + 5000)).toBe(Infinity);
  });

  it('more 429s of the same burst cut once; a later one cuts again from the current rate and recovers to the first peak', () => {
    const s1 = throttled({}, { status: 429, observedRate: 200 }, {}, T0);
    expect(throttled(s1, { status: 429, observedRate: 300 }, {}, T0 + 500)).toEqual(s1);
    const s2 = throttled(s1, { status: 503, observedRate: 300 }, {}, T0 + 1000);
    expect(s2).toMatchObject({ limit: 60, since: T0 + 1000, peak: 200 });
  });

  it('never goes below the floor, and recovery stays under the ceiling', () => {
    let s: RateState = {};
    for (let i = 0; i < 20; i++) s = throttled(s, { status: 429, observedRate: 8 }, { ceiling: 8 }, T0 + i * 1000);
    expect(s.limit).toBeCloseTo(1);
    const c = throttled({}, { status: 429, observedRate: 1000 }, { ceiling: 50 }, T0);
    expect(c).toMatchObject({ limit: 22.5, peak: 45 });
    expect(currentRate(c, { ceiling: 50 }, T0 + 60_000)).toBe(45);
  });

  it('Retry-After pauses the registry (at most maxPauseMs), with or without a cut', () => {
    const s = throttled({}, { status: 429, observedRate: 10, retryAfterMs: 2000 }, {}, T0);
    expect(s.pausedUntil).toBe(T0 + 2000);
    expect(throttled(s, { status: 429, observedRate: 10, retryAfterMs: 3_600_000 }, {}, T0 + 10).pausedUntil).toBe(T0 + 10 + 60_000);
  });

  it('reads Docker Hub pull quota headers', () => {
    expect(parsePullQuota(h({ 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' }))).toEqual({ remaining: 76, limit: 100, windowSeconds: 21600 });
    expect(parsePullQuota(h({ 'ratelimit-remaining': '3', 'ratelimit-reset': '42' }))).toEqual({ remaining: 3, resetSeconds: 42 });
    expect(parsePullQuota(h({}))).toBeUndefined();
  });

  it('pauses pulls at minRemaining until the window frees enough (or the stated reset), and lifts the pause above it', () => {
    const settings = { minRemaining: 10 };
    const low = { remaining: 10, limit: 100, windowSeconds: 21600 };
    expect(pullPause(low, 10)).toBe(216_000); // one pull's share of a 6 h window of 100
    expect(pullPause({ remaining: 2, resetSeconds: 30 }, 10)).toBe(30_000);
    const paused = quotaSeen({}, low, settings, T0);
    expect(paused.pullsPausedUntil).toBe(T0 + 216_000);
    expect(quotaSeen(paused, { remaining: 11 }, settings, T0 + 5)).toEqual({});
    expect(quotaSeen({}, { remaining: 0 }, {}, T0)).toEqual({}); // no minRemaining: quota ignored
  });
});

describe('RateController (real time)', () => {
  it('paces requests at the ceiling', async () => {
    const rc = new RateController({ registry: 'r', ceiling: 50 });
    const started = Date.now();
    for (let i = 0; i < 26; i++) await rc.admit('HEAD');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(480);
    expect(elapsed).toBeLessThan(1500);
  });

  it('does not pace without a ceiling until a 429 comes; then every request of the registry slows, and the rate recovers', async () => {
    const events: RateEvent[] = [];
    const rc = new RateController({ registry: 'r', recovery: 0.5, onEvent: (e) => events.push(e) });
    let started = Date.now();
    for (let i = 0; i < 100; i++) await rc.admit('GET');
    expect(Date.now() - started).toBeLessThan(100);
    rc.observe(429, h({}));
    expect(events[0]).toMatchObject({ kind: 'slowed', status: 429 });
    const cut = rc.rate;
    expect(cut).toBeGreaterThan(0);
    expect(cut).toBeLessThan(Infinity);
    started = Date.now();
    for (let i = 0; i < 10; i++) await rc.admit('PUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(Math.floor((9 / cut) * 1000) - 20);
    await new Promise((r) => setTimeout(r, 2100)); // 0.5 of the peak per second: over after 1 s
    await rc.admit('GET');
    expect(rc.rate).toBe(Infinity);
    expect(events.at(-1)).toEqual({ kind: 'recovered', rate: Infinity });
  });

  it('Retry-After holds every request back; the quota holds pulls (GET) back, not HEADs', async () => {
    const events: RateEvent[] = [];
    const rc = new RateController({ registry: 'r', minRemaining: 5, onEvent: (e) => events.push(e) });
    rc.observe(429, h({ 'retry-after': '1' }));
    let started = Date.now();
    await rc.admit('HEAD');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);

    rc.observe(200, h({ 'ratelimit-remaining': '5', 'ratelimit-reset': '1' }));
    expect(events.at(-1)).toMatchObject({ kind: 'pulls-paused', remaining: 5 });
    started = Date.now();
    await rc.admit('HEAD');
    expect(Date.now() - started).toBeLessThan(900);
    await rc.admit('GET');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    rc.observe(200, h({ 'ratelimit-remaining': '80' }));
    expect(events.at(-1)).toEqual({ kind: 'pulls-resumed', remaining: 80 });
  });
});

describe('RateController over a shared store (two processes: two SQLite connections to one file)', () => {
  const open = async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { openEmbeddedBackend } = await import('../../shared/adapters/embedded/index.js');
    const dataDir = mkdtempSync(join(tmpdir(), 'ferry-rate-'));
    return [openEmbeddedBackend({ dataDir }), openEmbeddedBackend({ dataDir })] as const;
  };

  it('the ceiling holds for both together', async () => {
    const [x, y] = await open();
    try {
      const a = new RateController({ registry: 'r', ceiling: 40, store: x.rateStore! });
      const b = new RateController({ registry: 'r', ceiling: 40, store: y.rateStore! });
      const started = Date.now();
      await Promise.all([a, b].map(async (rc) => { for (let i = 0; i < 40; i++) await rc.admit('HEAD'); }));
      // 80 requests at 40/s together: about 2 s (alone, each would take 1 s).
      expect(Date.now() - started).toBeGreaterThanOrEqual(1800);
    } finally {
      await x.close();
      await y.close();
    }
  });

  it('a 429 seen by one slows the other', async () => {
    const [x, y] = await open();
    try {
      const events: RateEvent[] = [];
      const a = new RateController({ registry: 'r', store: x.rateStore! });
      const b = new RateController({ registry: 'r', store: y.rateStore!, syncMs: 50, onEvent: (e) => events.push(e) });
      for (let i = 0; i < 50; i++) await a.admit('GET');
      a.observe(429, h({}));
      await new Promise((r) => setTimeout(r, 100));
      await b.admit('GET');
      expect(b.rate).toBeLessThan(Infinity);
      expect(events[0]).toMatchObject({ kind: 'slowed', status: 0 });
    } finally {
      await x.close();
      await y.close();
    }
  });
});

describe('recovery from a small peak', () => {
  it('regains at least 1 req/s per second', () => {
    const s = throttled({}, { status: 429, observedRate: 4 }, {}, T0);
    expect(s).toMatchObject({ limit: 2, peak: 4 });
    expect(currentRate(s, {}, T0 + 1000)).toBeCloseTo(3);
    expect(currentRate(s, {}, T0 + 2000)).toBe(Infinity);
  });
});
