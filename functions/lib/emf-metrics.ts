// Metrics the Lambda way: CloudWatch embedded metric format (EMF) lines on stdout, written
// by Powertools for AWS Lambda. CloudWatch Logs turns them into metrics in the `ferry`
// namespace with no API call from the function. Per-dimension counts (status, trigger,
// registry) go out at once as single metrics; undimensioned ones (bytes, blobs, lag) are
// collected during an invocation and published by flush() at its end.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricsRecorder } from '../../shared/observability/recorder.js';

export const METRICS_NAMESPACE = 'ferry';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** What a function records: the core's metrics, queue lag, and a flush at the end of each invocation. */
export interface LambdaMetrics extends MetricsRecorder {
  recordLag(seconds: number): void;
  flush(): void;
}

export class EmfMetrics implements LambdaMetrics {
  readonly metrics: Metrics;

  constructor(service: string, metrics?: Metrics) {
    this.metrics = metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service });
  }

  private single(name: string, unit: Unit, value: number, dimensions: Record<string, string>): void {
    const one = this.metrics.singleMetric();
    one.addDimensions(dimensions);
    one.addMetric(name, unit, value);
  }

  readonly jobsFinished = {
    inc: (labels: { status: string; policy: string }, value = 1): void => this.single('JobsFinished', MetricUnit.Count, value, { outcome: labels.status, policy: labels.policy }),
  };

  readonly jobDuration = {
    observe: (labels: { status: string }, seconds: number): void => this.single('JobDuration', MetricUnit.Seconds, seconds, { outcome: labels.status }),
  };

  readonly jobAttempts = {
    inc: (value = 1): void => { this.metrics.addMetric('JobAttempts', MetricUnit.Count, value); },
  };

  readonly jobsEnqueued = {
    inc: (labels: { trigger: string }, value = 1): void => { if (value > 0) this.single('JobsEnqueued', MetricUnit.Count, value, { trigger: labels.trigger }); },
  };

  readonly webhookRequests = {
    inc: (labels: { registry: string; status: string }, value = 1): void => this.single('WebhookRequests', MetricUnit.Count, value, { registry: labels.registry, status: labels.status }),
  };

  readonly registryBackoffs = {
    inc: (labels: { registry: string; status: string }, value = 1): void => this.single('RegistryBackoffs', MetricUnit.Count, value, { registry: labels.registry, status: labels.status }),
  };

  readonly registryRateLimit = {
    set: (labels: { registry: string }, value: number): void => this.single('RegistryRateLimit', MetricUnit.CountPerSecond, value, { registry: labels.registry }),
  };

  readonly registryPullsPaused = {
    set: (labels: { registry: string }, value: number): void => this.single('RegistryPullsPaused', MetricUnit.Count, value, { registry: labels.registry }),
  };

  recordStats(stats: { blobs: { copied: number; skipped: number; mounted: number }; bytes: number }): void {
    this.metrics.addMetric('BytesCopied', MetricUnit.Bytes, stats.bytes);
    this.metrics.addMetric('BlobsCopied', MetricUnit.Count, stats.blobs.copied);
    this.metrics.addMetric('BlobsSkipped', MetricUnit.Count, stats.blobs.skipped);
    this.metrics.addMetric('BlobsMounted', MetricUnit.Count, stats.blobs.mounted);
  }

  /** How long a job waited in the queue before this run started (SQS SentTimestamp to now). */
  recordLag(seconds: number): void {
    this.metrics.addMetric('QueueLag', MetricUnit.Seconds, Math.max(0, seconds));
  }

  /** Publishes what was collected; call at the end of every invocation. */
  flush(): void {
    if (this.metrics.hasStoredMetrics()) this.metrics.publishStoredMetrics();
  }
}
