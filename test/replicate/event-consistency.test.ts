// A push notification can arrive before the registry has moved the tag (Distribution sends
// it inside the manifest PUT). A fresh push job waits briefly for the source tag to show the
// event's digest, so it copies what was pushed, not what the tag named a moment before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/jobs/model.js';
import { RegistryClient } from '../../shared/registry/client.js';
import { awaitEventConsistency } from '../../shared/replicate/event-consistency.js';
import type { ReplicateJob } from '../../shared/replicate/types.js';
import { buildImage, pushImage, pushRandomImage } from '../testbed/images.js';
import { startFaultProxy } from '../testbed/fault-proxy.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let src: DistributionRegistry;
let client: RegistryClient;

beforeAll(async () => {
  [src] = (await startRegistries(1, { name: 'consistency' })) as [DistributionRegistry];
  client = new RegistryClient({ name: 'src', url: src.url, insecure: true });
});

afterAll(async () => {
  await client?.close();
  await stopAllRegistries();
});

function pushJob(repository: string, digest: string, at = new Date()): Job {
  const now = at.toISOString();
  return {
    id: `job-${repository}`, key: `p|dst|${repository}|v1`, policy: 'p',
    source: { registry: 'src', repository, reference: 'v1', digest },
    destination: { registry: 'dst', repository },
    trigger: { kind: 'event', eventId: 'e1', at: now, action: 'push' },
    status: 'running', attempts: 1, createdAt: now, updatedAt: now,
  };
}

/** A replicator that reports which digest the source tag named when the job ran. */
function seeingTag(): ReplicateJob {
  return async (job) => {
    const head = await client.headManifest(job.source.repository, job.source.reference);
    return { action: 'copied', ...(head ? { digest: head.digest } : {}), stats: { manifests: 0, blobs: { copied: 0, skipped: 0, mounted: 0 }, bytes: 0, ms: 0 } };
  };
}

describe('event consistency', () => {
  it('a fresh push job runs once the source tag shows the pushed digest', async () => {
    await pushRandomImage(`${src.host}/team/app:v1`, { layerSizes: [1000] });
    const next = await buildImage({ layerSizes: [2000], label: 'next' });
    try {
      const replicate = awaitEventConsistency(seeingTag(), new Map([['src', client]]), { maxWaitMs: 10_000 });
      const running = replicate(pushJob('team/app', next.digest), {});
      // The tag moves only after the job started waiting.
      await new Promise((r) => setTimeout(r, 300));
      await pushImage(next, `${src.host}/team/app:v1`);
      expect((await running).digest).toBe(next.digest);
    } finally {
      await next.dispose();
    }
  });

  it('gives up after the wait and runs against what the source has (the source stays authoritative)', async () => {
    const current = await pushRandomImage(`${src.host}/team/late:v1`, { layerSizes: [1000] });
    const replicate = awaitEventConsistency(seeingTag(), new Map([['src', client]]), { maxWaitMs: 300 });
    const started = Date.now();
    const outcome = await replicate(pushJob('team/late', `sha256:${'0'.repeat(64)}`), {});
    expect(outcome.digest).toBe(current.digest);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('polls through 5xx answers and dropped connections within its window instead of failing the job', async () => {
    const proxy = await startFaultProxy(src.url);
    const viaProxy = new RegistryClient({ name: 'src', url: proxy.url, insecure: true });
    try {
      await pushRandomImage(`${src.host}/team/flaky:v1`, { layerSizes: [1000] });
      const next = await buildImage({ layerSizes: [2000], label: 'flaky-next' });
      try {
        // Every manifest HEAD fails for a while (500, 503, a reset), as a registry busy with
        // the push it notified about sometimes does; the tag moves meanwhile.
        proxy.failWith({ method: 'HEAD', path: '/manifests/' }, 500, 3);
        proxy.inject({ match: { method: 'HEAD', path: '/manifests/' }, fault: { kind: 'reset' }, times: 2 });
        proxy.failWith({ method: 'HEAD', path: '/manifests/' }, 503, 3);
        const replicate = awaitEventConsistency(seeingTag(), new Map([['src', viaProxy]]), { maxWaitMs: 15_000 });
        const running = replicate(pushJob('team/flaky', next.digest), {});
        await new Promise((r) => setTimeout(r, 300));
        await pushImage(next, `${src.host}/team/flaky:v1`);
        expect((await running).digest).toBe(next.digest);
        expect(proxy.pendingFaults()).toBe(0);
        const heads = proxy.requests.filter((r) => r.method === 'HEAD');
        expect(heads.filter((r) => r.status >= 500 || r.status === 0).length).toBeGreaterThanOrEqual(8);
        expect(heads.at(-1)?.status).toBe(200);
      } finally {
        await next.dispose();
      }
      // Outside the window the error is the job's: a permanent one is not swallowed either.
      proxy.failWith({ method: 'HEAD', path: '/manifests/' }, 401, Infinity);
      const replicate = awaitEventConsistency(seeingTag(), new Map([['src', viaProxy]]), { maxWaitMs: 5_000 });
      await expect(replicate(pushJob('team/flaky', `sha256:${'1'.repeat(64)}`), {})).rejects.toThrow();
    } finally {
      await viaProxy.close();
      await proxy.stop();
    }
  });

  it('old events and non-event jobs do not wait', async () => {
    const current = await pushRandomImage(`${src.host}/team/old:v1`, { layerSizes: [1000] });
    const replicate = awaitEventConsistency(seeingTag(), new Map([['src', client]]), { maxWaitMs: 5_000 });
    const started = Date.now();
    const old = await replicate(pushJob('team/old', `sha256:${'0'.repeat(64)}`, new Date(Date.now() - 60_000)), {});
    expect(old.digest).toBe(current.digest);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
