// A destination that answers 429 to 30% of requests (the fault proxy, no Retry-After):
// the worker stack of `ferry serve` still converges the whole job set, and the rate
// controller slows every request to that registry while the 429s come and lifts the
// back-off after (the proxy timestamps what it sees; the controller reports its events).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { openEmbeddedBackend } from '../../shared/adapters/embedded/index.js';
import { parseConfigText } from '../../shared/config/load.js';
import { enqueue } from '../../shared/jobs/enqueue.js';
import type { Job } from '../../shared/jobs/model.js';
import { createLogger } from '../../shared/observability/logger.js';
import { FerryMetrics } from '../../shared/observability/metrics.js';
import { awaitJobs } from '../../shared/reconcile/await-jobs.js';
import { RegistryClient } from '../../shared/registry/client.js';
import type { RateEvent } from '../../shared/registry/rate-control.js';
import { createWorkerStack } from '../../infra/local/serve/worker-stack.js';
import { blobTraffic } from '../testbed/access-log.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { buildImage, pushImage, withBaseLayers, type TestImage } from '../testbed/images.js';
import { startRegistry, stopRegistries, type DistributionRegistry } from '../testbed/registries.js';

const REPOS = 10;
let src: DistributionRegistry;
let dst: DistributionRegistry;
let proxy: FaultProxy;
let dataDir: string;
const images: TestImage[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ferry-throttled-'));
  [src, dst] = await Promise.all([startRegistry({ name: 'throttled-src', logLevel: 'error' }), startRegistry({ name: 'throttled-dst' })]);
  proxy = await startFaultProxy(dst.url);
  const base = await buildImage({ layerSizes: [300_000, 200_000, 100_000], label: 'base' });
  for (let i = 0; i < REPOS; i++) {
    const image = await withBaseLayers(base, await buildImage({ layerSizes: [40_000 + i], label: `t${i}` }));
    images.push(image);
    await pushImage(image, `${src.host}/team/app${i}:v1`);
  }
}, 180_000);

afterAll(async () => {
  await proxy?.stop();
  await stopRegistries([src, dst]);
  rmSync(dataDir, { recursive: true, force: true });
});

/** Requests the proxy saw per second in [from, to). */
function rate(from: number, to: number, match: (path: string) => boolean = () => true): number {
  return proxy.requests.filter((r) => r.at >= from && r.at < to && match(r.path)).length / ((to - from) / 1000);
}

describe('a destination answering 429 to 30% of requests', () => {
  it('the whole job set converges, each blob still uploaded once', async () => {
    proxy.inject({ match: {}, fault: { kind: 'status', status: 429 }, times: Infinity, probability: 0.3 });
    const config = parseConfigText(stringify({
      dataDir,
      registries: { src: { url: src.url, insecure: true }, dst: { url: proxy.url, insecure: true } },
      policies: [{ name: 'p', source: 'src', repositories: ['team/**'], destinations: [{ registry: 'dst' }] }],
      worker: { concurrency: 3, retryDelay: '200ms', maxAttempts: 10 },
    }), 'ferry.yaml', {});
    const backend = openEmbeddedBackend({ dataDir });
    const metrics = new FerryMetrics();
    const workers = createWorkerStack(config, backend, { logger: createLogger({ level: 'silent' }), metrics });
    try {
      workers.pool.start();
      const enqueued = await enqueue({ queue: backend.queue, store: backend.store }, images.map((_, i) => ({
        policy: 'p', source: { registry: 'src', repository: `team/app${i}`, reference: 'v1' }, destination: { registry: 'dst', repository: `team/app${i}` },
      })), { kind: 'reconcile', at: new Date().toISOString() });
      const started = Date.now();
      const tally = await awaitJobs(backend.store, enqueued.map((e) => e.job.id), { signal: AbortSignal.timeout(150_000) });
      const jobs = (await Promise.all(enqueued.map((e) => backend.store.get(e.job.id)))) as Job[];
      expect(tally.pending).toBe(0);
      expect(jobs.map((j) => j.status)).toEqual(jobs.map(() => 'succeeded'));
      const injected = proxy.requests.filter((r) => r.fault === 'status').length;
      console.log(`${REPOS} jobs converged in ${((Date.now() - started) / 1000).toFixed(1)} s through ${proxy.requests.length} requests, ${injected} answered 429`);
      expect(injected).toBeGreaterThan(proxy.requests.length * 0.2);
      // The registry slowed for every job, and it shows in the metrics.
      expect(await metrics.text()).toMatch(/ferry_registry_backoffs_total\{registry="dst",status="429"\} [1-9]/);
      const traffic = await blobTraffic(dst.logFile);
      expect([...traffic.uploads.values()].every((n) => n === 1)).toBe(true);
      expect(traffic.uploads.size).toBe(3 + 2 * REPOS);
    } finally {
      await workers.pool.drain(1000);
      await workers.close();
      await backend.close();
      proxy.reset();
    }
  }, 200_000);

  it('the request rate drops while the 429s come and recovers after', async () => {
    const events: Array<RateEvent & { at: number }> = [];
    const client = new RegistryClient({ name: 'dst', url: proxy.url, insecure: true, onRateEvent: (e) => events.push({ ...e, at: Date.now() }) });
    const isHead = (path: string) => path.includes('/manifests/');
    let stop = false;
    // Eight jobs' worth of steady traffic: manifest HEADs in a loop.
    const loops = Array.from({ length: 8 }, async (_, i) => {
      while (!stop) await client.headManifest(`team/app${i}`, 'v1').catch(() => undefined);
    });
    try {
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 2000));
      const t1 = Date.now();
      proxy.inject({ match: {}, fault: { kind: 'status', status: 429 }, times: Infinity, probability: 0.3 });
      await new Promise((r) => setTimeout(r, 4000));
      const t2 = Date.now();
      const before = rate(t0 + 500, t1, isHead);
      const during = rate(t1 + 1000, t2, isHead);
      proxy.reset(); // no more faults (and forgets what it saw)
      // Recovery: 10% of the pre-back-off rate regained per second.
      await new Promise((r) => setTimeout(r, 12_000));
      const t3 = Date.now();
      stop = true;
      await Promise.all(loops);

      const after = rate(t3 - 2000, t3, isHead);
      console.log(`manifest HEADs per second: before ${before.toFixed(0)}, with 30% 429s ${during.toFixed(0)}, 10-12 s after ${after.toFixed(0)}; back-offs ${events.filter((e) => e.kind === 'slowed').length}`);
      expect(events.some((e) => e.kind === 'slowed' && e.at >= t1 && e.at < t2)).toBe(true);
      expect(during).toBeLessThan(before * 0.5);
      expect(events.some((e) => e.kind === 'recovered' && e.at >= t2)).toBe(true);
      expect(client.rate.rate).toBe(Infinity);
      expect(after).toBeGreaterThan(before * 0.5);
    } finally {
      stop = true;
      await client.close();
    }
  }, 60_000);
});
