// Per-registry health as this process sees it: every registry request's status and
// latency, kept in memory (last success, last failure and why, recent 429/5xx counts, p50
// latency). Fed by the registry transport's observer; read by GET /api/registries.
import type { RegistryRequestObservation } from '../registry/transport.js';

/** What counts as "recent" for the 429/5xx counts and the latency sample. */
export const HEALTH_WINDOW_MS = 15 * 60 * 1000;
const MAX_SAMPLES = 500;

export interface RegistryHealth {
  registry: string;
  lastSuccess?: string;
  lastFailure?: { at: string; reason: string };
  /** In the last HEALTH_WINDOW_MS. */
  recent: { requests: number; throttled: number; serverErrors: number; windowSeconds: number };
  latencyP50Ms?: number;
  /** Filled by the rate-control state when a host provides it. */
  rateControl?: Record<string, unknown>;
  pullQuota?: Record<string, unknown>;
}

interface Sample { at: number; status: number | undefined; ms: number }

export class RegistryHealthTracker {
  private readonly samples = new Map<string, Sample[]>();
  private readonly lastSuccess = new Map<string, number>();
  private readonly lastFailure = new Map<string, { at: number; reason: string }>();

  constructor(private readonly now: () => number = Date.now) {}

  readonly observe = (o: RegistryRequestObservation): void => {
    const at = this.now();
    const list = this.samples.get(o.registry) ?? [];
    list.push({ at, status: o.status, ms: o.ms });
    if (list.length > MAX_SAMPLES) list.splice(0, list.length - MAX_SAMPLES);
    this.samples.set(o.registry, list);
    const failed = o.status === undefined || o.status === 429 || o.status >= 500;
    if (failed) {
      const reason = o.status === undefined ? (o.error ?? 'network error') : `HTTP ${o.status} on ${o.method} ${o.path}`;
      this.lastFailure.set(o.registry, { at, reason });
    } else {
      this.lastSuccess.set(o.registry, at);
    }
  };

  health(registry: string): RegistryHealth {
    const since = this.now() - HEALTH_WINDOW_MS;
    const recent = (this.samples.get(registry) ?? []).filter((s) => s.at >= since);
    const out: RegistryHealth = {
      registry,
      recent: {
        requests: recent.length,
        throttled: recent.filter((s) => s.status === 429).length,
        serverErrors: recent.filter((s) => s.status !== undefined && s.status >= 500).length,
        windowSeconds: HEALTH_WINDOW_MS / 1000,
      },
    };
    const ok = this.lastSuccess.get(registry);
    if (ok !== undefined) out.lastSuccess = new Date(ok).toISOString();
    const bad = this.lastFailure.get(registry);
    if (bad) out.lastFailure = { at: new Date(bad.at).toISOString(), reason: bad.reason };
    if (recent.length > 0) {
      const sorted = recent.map((s) => s.ms).sort((a, b) => a - b);
      out.latencyP50Ms = Math.round(sorted[Math.floor((sorted.length - 1) / 2)]!);
    }
    return out;
  }
}
