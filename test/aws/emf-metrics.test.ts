// The Lambda metrics as CloudWatch reads them: embedded metric format lines on stdout,
// written by Powertools (no CloudWatch API call, so nothing to stand in for here).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmfMetrics } from '../../functions/lib/emf-metrics.js';

type EmfLine = Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> } };

function capture(): { lines(): EmfLine[] } {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { chunks.push(String(chunk)); return true; });
  return { lines: () => chunks.join('').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as EmfLine) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('EmfMetrics', () => {
  it('jobs by outcome and policy, durations and enqueues go out at once with their own dimensions', () => {
    const out = capture();
    const m = new EmfMetrics('ferry-worker');
    m.jobsFinished.inc({ status: 'succeeded', policy: 'mirror' });
    m.jobDuration.observe({ status: 'failed' }, 2.5);
    m.jobsEnqueued.inc({ trigger: 'event' }, 3);
    m.jobsEnqueued.inc({ trigger: 'event' }, 0);
    const [finished, duration, enqueued, ...rest] = out.lines();
    expect(rest).toEqual([]);
    expect(finished).toMatchObject({ service: 'ferry-worker', outcome: 'succeeded', policy: 'mirror', JobsFinished: 1 });
    expect(finished!._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'ferry', Metrics: [{ Name: 'JobsFinished', Unit: 'Count' }] });
    expect(finished!._aws.CloudWatchMetrics[0]!.Dimensions[0]).toEqual(expect.arrayContaining(['service', 'outcome', 'policy']));
    expect(duration).toMatchObject({ outcome: 'failed', JobDuration: 2.5 });
    expect(enqueued).toMatchObject({ trigger: 'event', JobsEnqueued: 3 });
  });

  it('bytes, blobs, attempts and lag are collected and published by flush(); an empty flush writes nothing', () => {
    const out = capture();
    const m = new EmfMetrics('ferry-worker');
    m.flush();
    expect(out.lines()).toEqual([]);
    m.jobAttempts.inc();
    m.recordStats({ blobs: { copied: 3, skipped: 2, mounted: 1 }, bytes: 1_000_000 });
    m.recordLag(-1);
    m.flush();
    const [line, ...rest] = out.lines();
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ JobAttempts: 1, BytesCopied: 1_000_000, BlobsCopied: 3, BlobsSkipped: 2, BlobsMounted: 1, QueueLag: 0 });
    m.flush();
    expect(out.lines()).toHaveLength(1);
  });
});
