// What GET /api/registries shows of a registry's adaptive rate control: the rate in force,
// whether a back-off or pause holds, and the pull quota when the registry reports one.
// Pure: reads a RateController's state, so the host decides which controller to show.
import type { PullQuota, RateState } from '../registry/rate-control.js';
import type { RegistryHealth } from './registry-health.js';

export interface RateControlView {
  /** Requests per second allowed now, or 'unlimited'. */
  limit: number | 'unlimited';
  /** True while a 429/503 back-off or a Retry-After pause is in force. */
  backingOff: boolean;
  /** Rate the back-off started from (req/s), while backing off. */
  backOffFrom?: number;
  /** No request before this (Retry-After), ISO time. */
  pausedUntil?: string;
}

export interface PullQuotaView {
  remaining: number;
  limit?: number;
  windowSeconds?: number;
  /** When the registry reported it, ISO time. */
  seenAt: string;
  /** Pulls wait until this (quota at limits.minRemaining), ISO time. */
  pausedUntil?: string;
}

export interface RateSource {
  /** The rate in force now (Infinity = uncapped). */
  rate: number;
  snapshot: Readonly<RateState>;
  lastQuota: Readonly<PullQuota & { at: number }> | undefined;
}

export function rateView(source: RateSource, now: number): Pick<RegistryHealth, 'rateControl' | 'pullQuota'> {
  const state = source.snapshot;
  const rate = source.rate;
  const paused = state.pausedUntil !== undefined && state.pausedUntil > now;
  const rateControl: RateControlView = {
    limit: Number.isFinite(rate) ? Math.round(rate * 100) / 100 : 'unlimited',
    backingOff: (state.limit !== undefined && rate < (state.peak ?? Infinity)) || paused,
    ...(state.limit !== undefined && state.peak !== undefined && rate < state.peak ? { backOffFrom: Math.round(state.peak * 100) / 100 } : {}),
    ...(paused ? { pausedUntil: new Date(state.pausedUntil!).toISOString() } : {}),
  };
  const out: Pick<RegistryHealth, 'rateControl' | 'pullQuota'> = { rateControl: { ...rateControl } };
  const quota = source.lastQuota;
  const pullsPaused = state.pullsPausedUntil !== undefined && state.pullsPausedUntil > now;
  if (quota || pullsPaused) {
    const view: Partial<PullQuotaView> = {
      ...(quota ? { remaining: quota.remaining, seenAt: new Date(quota.at).toISOString() } : {}),
      ...(quota?.limit !== undefined ? { limit: quota.limit } : {}),
      ...(quota?.windowSeconds !== undefined ? { windowSeconds: quota.windowSeconds } : {}),
      ...(pullsPaused ? { pausedUntil: new Date(state.pullsPausedUntil!).toISOString() } : {}),
    };
    out.pullQuota = view;
  }
  return out;
}
