// Adaptive request-rate control for one registry. No cap by default; the registry's own
// signals set the pace: a 429 or 503 cuts the rate for every request to that registry
// (multiplicative decrease), which then climbs back linearly (additive increase) until the
// back-off is over; Retry-After pauses the registry; Docker Hub's pull quota
// (`ratelimit-remaining`) below `minRemaining` pauses pulls until the window frees some.
// `requestsPerSecond` stays a hard ceiling. The state is plain data and the functions that
// move it are pure; RateController applies them to requests, alone or through a store
// shared by several processes (the AWS workers).
import { parseRetryAfter } from './errors.js';
import { sleep } from '../retry/sleep.js';

export interface RateSettings {
  /** Explicit ceiling (limits.requestsPerSecond); undefined = no cap. */
  ceiling?: number;
  /** Pause pulls while the registry's pull quota is at or below this (limits.minRemaining). */
  minRemaining?: number;
  /** Multiplicative decrease on a 429/503 (default 0.5). */
  decrease?: number;
  /** Lowest rate a back-off goes to, req/s (default 1). */
  floor?: number;
  /** Additive increase, as a share of the pre-back-off rate regained per second (default 0.1, at least 1 req/s per second). */
  recovery?: number;
  /** Throttling answers within this long after a decrease do not cut again (default 1 s). */
  holdMs?: number;
  /** Longest a Retry-After pauses the whole registry (default 60 s). */
  maxPauseMs?: number;
}

/** A registry's back-off state; plain data, so processes can share it. Times are epoch ms. */
export interface RateState {
  /** Rate set by the last decrease (req/s); absent = no back-off in force. */
  limit?: number;
  /** When `limit` was set; the rate recovers from then on. */
  since?: number;
  /** The rate before the back-off: reaching it again ends the back-off. */
  peak?: number;
  /** No request before this (Retry-After). */
  pausedUntil?: number;
  /** No pull (GET) before this (pull quota at `minRemaining`). */
  pullsPausedUntil?: number;
}

/**
 * Requests are scheduled at this share of an explicit ceiling: a busy event loop (or a full
 * connection pool) sends some late, and late requests bunch with punctual ones; the
 * registry counts arrivals, and a ceiling must hold there.
 */
export const CEILING_MARGIN = 0.9;
export const DEFAULT_DECREASE = 0.5;
export const DEFAULT_FLOOR = 1;
export const DEFAULT_RECOVERY = 0.1;
export const DEFAULT_HOLD_MS = 1000;
/** Least requests per second regained per second of a back-off. */
export const MIN_RECOVERY_STEP = 1;
export const DEFAULT_MAX_PAUSE_MS = 60_000;

/** Requests per second allowed at `now` (Infinity = no cap). */
export function currentRate(state: RateState, settings: RateSettings, now: number): number {
  const ceiling = settings.ceiling !== undefined && settings.ceiling > 0 ? settings.ceiling * CEILING_MARGIN : Infinity;
  if (state.limit === undefined || state.since === undefined || state.peak === undefined) return ceiling;
  // At least 1 req/s per second: a back-off from a small peak must not crawl.
  const step = Math.max(MIN_RECOVERY_STEP, state.peak * (settings.recovery ?? DEFAULT_RECOVERY));
  const regained = step * Math.max(0, now - state.since) / 1000;
  const rate = state.limit + regained;
  return rate >= state.peak ? ceiling : Math.min(rate, ceiling);
}

/** The back-off (not the pauses) has run its course: the state can drop it. */
export function recovered(state: RateState, settings: RateSettings, now: number): boolean {
  return state.limit !== undefined && currentRate(state, settings, now) >= (state.peak ?? Infinity);
}

export interface ThrottleSignal {
  status: number;
  retryAfterMs?: number;
  /** Requests per second this process sent lately: where an uncapped rate is cut from. */
  observedRate: number;
}

/** The state after a 429/503. Unchanged when a decrease happened within `holdMs` (same burst). */
export function throttled(state: RateState, signal: ThrottleSignal, settings: RateSettings, now: number): RateState {
  const next: RateState = { ...state };
  if (signal.retryAfterMs !== undefined && signal.retryAfterMs > 0) {
    const until = now + Math.min(signal.retryAfterMs, settings.maxPauseMs ?? DEFAULT_MAX_PAUSE_MS);
    next.pausedUntil = Math.max(state.pausedUntil ?? 0, until);
  }
  if (state.since !== undefined && now - state.since < (settings.holdMs ?? DEFAULT_HOLD_MS)) return next;
  const rate = currentRate(state, settings, now);
  const base = Number.isFinite(rate) ? rate : Math.max(signal.observedRate, settings.floor ?? DEFAULT_FLOOR);
  next.limit = Math.max(settings.floor ?? DEFAULT_FLOOR, base * (settings.decrease ?? DEFAULT_DECREASE));
  next.since = now;
  // A back-off within a back-off recovers to where the first one started.
  next.peak = state.limit !== undefined && state.peak !== undefined ? state.peak : base;
  return next;
}

export interface PullQuota {
  remaining: number;
  /** Pulls per window, and the window in seconds (`ratelimit-limit: 100;w=21600`). */
  limit?: number;
  windowSeconds?: number;
  /** Seconds until the window resets, when the registry says (`ratelimit-reset`). */
  resetSeconds?: number;
}

/** Parses Docker Hub's quota headers; undefined when the registry sends none. */
export function parsePullQuota(header: (name: string) => string | undefined): PullQuota | undefined {
  const remaining = /^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?/.exec(header('ratelimit-remaining') ?? '');
  if (!remaining) return undefined;
  const quota: PullQuota = { remaining: Number(remaining[1]) };
  const limit = /^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?/.exec(header('ratelimit-limit') ?? '');
  if (limit) quota.limit = Number(limit[1]);
  const window = remaining[2] ?? limit?.[2];
  if (window !== undefined) quota.windowSeconds = Number(window);
  const reset = /^\s*(\d+)\s*$/.exec(header('ratelimit-reset') ?? '');
  if (reset) quota.resetSeconds = Number(reset[1]);
  return quota;
}

/** How long pulls wait when the quota ran down to `minRemaining` (no reset time given: one pull's share of the window, per pull missing). */
export function pullPause(quota: PullQuota, minRemaining: number): number {
  if (quota.resetSeconds !== undefined) return quota.resetSeconds * 1000;
  const missing = minRemaining - quota.remaining + 1;
  if (quota.windowSeconds !== undefined && quota.limit !== undefined && quota.limit > 0) {
    return Math.ceil((quota.windowSeconds / quota.limit) * missing * 1000);
  }
  return 60_000;
}

/** The state after an answer carrying the pull quota. */
export function quotaSeen(state: RateState, quota: PullQuota, settings: RateSettings, now: number): RateState {
  if (settings.minRemaining === undefined) return state;
  if (quota.remaining > settings.minRemaining) {
    if (state.pullsPausedUntil === undefined) return state;
    const { pullsPausedUntil: _, ...rest } = state;
    return rest;
  }
  if (state.pullsPausedUntil !== undefined && state.pullsPausedUntil > now) return state;
  return { ...state, pullsPausedUntil: now + pullPause(quota, settings.minRemaining) };
}

/** Where several processes keep one registry's state and request schedule (AWS: DynamoDB). */
export interface RateStore {
  /** The shared state of `registry` (empty when none). */
  load(registry: string): Promise<RateState>;
  /** Applies `change` to the shared state atomically (optimistic: re-read and retried on a race). */
  update(registry: string, change: (state: RateState) => RateState): Promise<RateState>;
  /**
   * Reserves `count` request slots `intervalMs` apart on the registry's shared schedule;
   * returns the time of the first (the others follow it). Slots never overlap another
   * process's, so all processes together stay at the rate.
   */
  reserve(registry: string, count: number, intervalMs: number, now: number): Promise<number>;
}

export type RateEvent =
  | { kind: 'slowed'; status: number; rate: number; retryAfterMs?: number }
  | { kind: 'recovered'; rate: number }
  | { kind: 'pulls-paused'; remaining: number; untilMs: number }
  | { kind: 'pulls-resumed'; remaining: number };

export interface RateControllerOptions extends RateSettings {
  /** Registry name (key of the shared state). */
  registry: string;
  store?: RateStore;
  onEvent?: (event: RateEvent) => void;
  now?: () => number;
  /** How often the shared state is re-read (default 1 s). */
  syncMs?: number;
}

/** Requests a reservation covers: about this long at the current rate. */
const RESERVATION_MS = 200;
/** A reserved slot this far in the past is dropped. */
const STALE_SLOT_MS = 5;

export class RateController {
  private state: RateState = {};
  private readonly settings: RateSettings;
  private readonly now: () => number;
  /** No request of this process starts before this (local pacing at the current rate). */
  private nextSlot = 0;
  /** Slots reserved on the shared schedule and not used yet. */
  private reserved: number[] = [];
  private readonly started: number[] = [];
  private lastSync = 0;
  private syncing: Promise<void> | undefined;
  /** The last pull quota the registry reported, and when (for registry health). */
  private quota: (PullQuota & { at: number }) | undefined;

  constructor(private readonly options: RateControllerOptions) {
    this.settings = options;
    this.now = options.now ?? Date.now;
  }

  /** The rate in force now (Infinity = uncapped). */
  get rate(): number {
    return currentRate(this.state, this.settings, this.now());
  }

  get snapshot(): Readonly<RateState> {
    return this.state;
  }

  /** The pull quota of the registry's last answer that carried one (epoch ms `at`). */
  get lastQuota(): Readonly<PullQuota & { at: number }> | undefined {
    return this.quota;
  }

  /**
   * Waits until a request may start. GETs are pulls (paused by the quota). Waiters look at
   * the rate again at least every 50 ms, so a recovering (or cut) rate applies to requests
   * already waiting, not only to new ones.
   */
  async admit(method: string, signal?: AbortSignal): Promise<void> {
    await this.sync();
    for (;;) {
      const now = this.now();
      const pause = Math.max(this.state.pausedUntil ?? 0, method === 'GET' ? this.state.pullsPausedUntil ?? 0 : 0);
      if (pause > now) {
        await sleep(pause - now, signal);
        continue;
      }
      if (recovered(this.state, this.settings, now)) {
        const { limit: _l, since: _s, peak: _p, ...rest } = this.state;
        this.state = rest;
        this.emit({ kind: 'recovered', rate: this.rate });
      }
      const rate = currentRate(this.state, this.settings, now);
      if (!Number.isFinite(rate)) {
        this.count(now);
        return;
      }
      if (now < this.nextSlot) {
        await sleep(Math.min(this.nextSlot - now, 50), signal);
        continue;
      }
      const interval = 1000 / rate;
      // Holds this process's other requests while this one books its shared slot.
      this.nextSlot = now + interval;
      if (this.options.store) {
        const slot = await this.sharedSlot(rate, now);
        this.nextSlot = Math.max(this.nextSlot, slot + interval);
        const wait = slot - this.now();
        if (wait > 0) await sleep(wait, signal);
      }
      this.count(this.now());
      return;
    }
  }

  /** Reads an answer: back off on 429/503, watch the pull quota. */
  observe(status: number, header: (name: string) => string | undefined): void {
    const now = this.now();
    if (status === 429 || status === 503) {
      const retryAfterMs = parseRetryAfter(header('retry-after'));
      const signal = { status, observedRate: this.observedRate(now), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
      const before = this.state;
      this.state = throttled(this.state, signal, this.settings, now);
      if (this.state.since !== before.since) {
        this.nextSlot = now; // the new pace starts now, not after slots booked at the old one
        this.reserved = [];
        this.emit({ kind: 'slowed', status, rate: this.state.limit ?? 0, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
      }
      this.share((shared) => throttled(shared, signal, this.settings, now));
    }
    const quota = parsePullQuota(header);
    if (quota) this.quota = { ...quota, at: now };
    if (quota && this.settings.minRemaining !== undefined) {
      const was = this.state.pullsPausedUntil;
      this.state = quotaSeen(this.state, quota, this.settings, now);
      const is = this.state.pullsPausedUntil;
      if (is !== undefined && is !== was) this.emit({ kind: 'pulls-paused', remaining: quota.remaining, untilMs: is });
      if (is === undefined && was !== undefined) this.emit({ kind: 'pulls-resumed', remaining: quota.remaining });
      if (is !== was) this.share((shared) => quotaSeen(shared, quota, this.settings, now));
    }
  }

  private emit(event: RateEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // An observer's failure never stops a request.
    }
  }

  private async sharedSlot(rate: number, now: number): Promise<number> {
    // A slot already past is given up, not used late: late slots would bunch with the next
    // ones and exceed the rate (the registry sees arrival times, not the schedule).
    while (this.reserved.length > 0 && this.reserved[0]! < now - STALE_SLOT_MS) this.reserved.shift();
    const ready = this.reserved.shift();
    if (ready !== undefined) return ready;
    const interval = 1000 / rate;
    const count = Math.max(1, Math.floor(RESERVATION_MS / interval));
    try {
      const first = await this.options.store!.reserve(this.options.registry, count, interval, now);
      for (let i = 1; i < count; i++) this.reserved.push(first + i * interval);
      return first;
    } catch {
      // The shared schedule is unreachable: this process paces alone rather than stops.
      return now;
    }
  }

  /** Adopts the shared state (other processes' back-offs and pauses) now and then. */
  private async sync(): Promise<void> {
    const store = this.options.store;
    if (!store) return;
    const now = this.now();
    if (now - this.lastSync < (this.options.syncMs ?? 1000)) return;
    this.lastSync = now;
    this.syncing ??= store.load(this.options.registry).then((shared) => {
      if ((shared.since ?? 0) > (this.state.since ?? 0)) {
        this.state = { ...this.state, limit: shared.limit!, since: shared.since!, peak: shared.peak! };
        this.reserved = [];
        this.emit({ kind: 'slowed', status: 0, rate: shared.limit ?? 0 });
      }
      if ((shared.pausedUntil ?? 0) > (this.state.pausedUntil ?? 0)) this.state = { ...this.state, pausedUntil: shared.pausedUntil! };
      if (shared.pullsPausedUntil !== this.state.pullsPausedUntil && (shared.pullsPausedUntil ?? 0) > now) {
        this.state = { ...this.state, pullsPausedUntil: shared.pullsPausedUntil! };
      }
    }, () => undefined).finally(() => {
      this.syncing = undefined;
    });
    await this.syncing;
  }

  private share(change: (state: RateState) => RateState): void {
    this.options.store?.update(this.options.registry, change).catch(() => undefined);
  }

  private count(now: number): void {
    this.started.push(now);
    while (this.started.length > 0 && this.started[0]! <= now - 1000) this.started.shift();
    if (this.started.length > 100_000) this.started.splice(0, this.started.length - 100_000);
  }

  /** Requests started in the last second. */
  private observedRate(now: number): number {
    while (this.started.length > 0 && this.started[0]! <= now - 1000) this.started.shift();
    return this.started.length;
  }
}
