// What the core records about its work, whatever the metrics end up in: prom-client
// behind /metrics for `ferry serve` (metrics.ts), CloudWatch embedded metric format in
// Lambda (functions/lib/emf-metrics.ts). The core imports only this type, so the Lambda
// bundles carry no Prometheus client.

export interface MetricsRecorder {
  readonly jobsFinished: { inc(labels: { status: string; policy: string }, value?: number): void };
  readonly jobDuration: { observe(labels: { status: string }, seconds: number): void };
  readonly jobAttempts: { inc(value?: number): void };
  readonly jobsEnqueued: { inc(labels: { trigger: string }, value?: number): void };
  readonly webhookRequests: { inc(labels: { registry: string; status: string }, value?: number): void };
  readonly registryBackoffs: { inc(labels: { registry: string; status: string }, value?: number): void };
  readonly registryRateLimit: { set(labels: { registry: string }, value: number): void };
  readonly registryPullsPaused: { set(labels: { registry: string }, value: number): void };
  /** Job created -> replica written (optional: Lambda's EMF recorder leaves it out). */
  readonly replicationLag?: { observe(labels: { policy: string }, seconds: number): void };
  recordStats(stats: { blobs: { copied: number; skipped: number; mounted: number }; bytes: number }): void;
}
