// Prometheus metrics. One instance per process; the core records, hosts expose /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MetricsRecorder } from './recorder.js';

export class FerryMetrics implements MetricsRecorder {
  readonly registry = new Registry();
  readonly jobsFinished = new Counter({ name: 'ferry_jobs_total', help: 'Jobs that finished a run, by resulting status', labelNames: ['status', 'policy'] as const, registers: [this.registry] });
  readonly jobAttempts = new Counter({ name: 'ferry_job_attempts_total', help: 'Job runs started', registers: [this.registry] });
  readonly jobDuration = new Histogram({ name: 'ferry_job_duration_seconds', help: 'Duration of job runs', labelNames: ['status'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900], registers: [this.registry] });
  readonly bytesCopied = new Counter({ name: 'ferry_bytes_copied_total', help: 'Blob bytes uploaded to destinations', registers: [this.registry] });
  readonly blobs = new Counter({ name: 'ferry_blobs_total', help: 'Blobs handled, by outcome', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly webhookRequests = new Counter({ name: 'ferry_webhook_requests_total', help: 'Webhook requests by registry and HTTP status', labelNames: ['registry', 'status'] as const, registers: [this.registry] });
  readonly jobsEnqueued = new Counter({ name: 'ferry_jobs_enqueued_total', help: 'Jobs enqueued, by trigger', labelNames: ['trigger'] as const, registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: 'ferry_queue_depth', help: 'Messages in the job queue, by state', labelNames: ['state'] as const, registers: [this.registry] });
  readonly registryRateLimit = new Gauge({ name: 'ferry_registry_rate_limit', help: 'Requests per second a registry is held to by a back-off (0 = no back-off in force)', labelNames: ['registry'] as const, registers: [this.registry] });
  readonly registryBackoffs = new Counter({ name: 'ferry_registry_backoffs_total', help: 'Times a registry slowed every job down after a 429/503 (status 0: learned from another worker)', labelNames: ['registry', 'status'] as const, registers: [this.registry] });
  readonly registryPullsPaused = new Gauge({ name: 'ferry_registry_pulls_paused', help: '1 while pulls from a registry wait for its pull quota (limits.minRemaining)', labelNames: ['registry'] as const, registers: [this.registry] });
  readonly replicationLag = new Histogram({ name: 'ferry_replication_lag_seconds', help: 'Event received (job created) to replica written, by policy', labelNames: ['policy'] as const, buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600], registers: [this.registry] });
  readonly jobsByStatus = new Gauge({ name: 'ferry_jobs', help: 'Job records by status (sampled)', labelNames: ['status'] as const, registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // prom-client's own names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, ...)
    // under one prefix: ferry_process_cpu_..., ferry_nodejs_...
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'ferry_' });
  }

  recordStats(stats: { blobs: { copied: number; skipped: number; mounted: number }; bytes: number }): void {
    this.bytesCopied.inc(stats.bytes);
    this.blobs.inc({ outcome: 'copied' }, stats.blobs.copied);
    this.blobs.inc({ outcome: 'skipped' }, stats.blobs.skipped);
    this.blobs.inc({ outcome: 'mounted' }, stats.blobs.mounted);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
