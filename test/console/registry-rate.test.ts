// GET /api/registries shows each registry's adaptive rate control: a real Distribution
// destination behind the fault proxy answers 429 + Retry-After, and the destination's entry
// shows the back-off (the Retry-After pause) while the source stays unlimited; the copy
// then completes once the pause is over. The pull quota (Docker Hub headers) is not shown
// here: no registry in the testbed sends them.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../shared/config/schema.js';
import { silentLogger } from '../../shared/observability/logger.js';
import { startHost, type Host } from '../../infra/local/serve/host.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { startRegistry, stopRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { pushRandomImage, type TestImage } from '../testbed/images.js';
import { arrives, eventually } from '../e2e/scenario.js';
import { RateController } from '../../shared/registry/rate-control.js';
import { rateView } from '../../shared/control/rate-view.js';

const SECRET = 'hook-secret';
const TOKEN = 'admin-secret';

// biome-ignore lint/suspicious/noExplicitAny: loose reads of API answers in assertions
type Json = Record<string, any>;

describe('registry health: rate control', () => {
  let dir: string;
  let src: DistributionRegistry;
  let dst: DistributionRegistry;
  let proxy: FaultProxy;
  let host: Host;
  let image: TestImage;

  beforeAll(async () => {
    [src, dst] = await Promise.all([startRegistry({ name: 'rate-src' }), startRegistry({ name: 'rate-dst' })]);
    proxy = await startFaultProxy(dst.url);
    dir = await mkdtemp(join(tmpdir(), 'ferry-rate-'));
    const config = configSchema.parse({
      dataDir: dir,
      registries: {
        src: { url: src.url, insecure: true, webhook: { secret: SECRET } },
        dst: { url: proxy.url, insecure: true },
      },
      policies: [{ name: 'all', source: 'src', destinations: [{ registry: 'dst' }] }],
      worker: { concurrency: 1, retryDelay: '1s', maxAttempts: 10 },
      admin: { token: TOKEN },
    });
    host = await startHost({ config, listen: { host: '127.0.0.1', port: 0 }, logger: silentLogger, digestPushDelaySeconds: 0 });
  }, 60_000);

  afterAll(async () => {
    await host?.stop();
    await proxy?.stop();
    await stopRegistries([src, dst]);
    await image?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const registries = async (): Promise<Json[]> => {
    const res = await fetch(`${host.url}/api/registries`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as Json).registries as Json[];
  };

  it('shows a destination answering 429 backing off, and unlimited when nothing throttles', async () => {
    const before = await registries();
    expect(before.find((r) => r.registry === 'dst')!.rateControl).toEqual({ limit: 'unlimited', backingOff: false });

    image = await pushRandomImage(`${src.host}/app:v1`);
    proxy.failWith({}, 429, 3, 8);
    const hook = await fetch(`${host.url}/webhooks/src`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [{
          id: randomUUID(), timestamp: new Date().toISOString(), action: 'push',
          target: { mediaType: image.mediaType, size: image.bytes.length, digest: image.digest, length: image.bytes.length, repository: 'app', url: `${src.url}/v2/app/manifests/${image.digest}`, tag: 'v1' },
          request: { id: randomUUID(), addr: '127.0.0.1:1', host: src.host, method: 'PUT', useragent: 'test' },
          actor: {}, source: { addr: src.host, instanceID: randomUUID() },
        }],
      }),
    });
    expect(hook.status).toBeLessThan(300);

    const dstEntry = await eventually('dst to show a back-off', async () => {
      const entry = (await registries()).find((r) => r.registry === 'dst')!;
      return entry.rateControl?.backingOff ? entry : undefined;
    });
    expect(proxy.requests.some((r) => r.status === 429)).toBe(true);
    expect(dstEntry.recent.throttled).toBeGreaterThan(0);
    // One request at a time is below the floor a cut goes to: the rate itself stays uncapped,
    // the Retry-After pause is the back-off.
    expect(dstEntry.rateControl.backingOff).toBe(true);
    expect(Date.parse(dstEntry.rateControl.pausedUntil)).toBeGreaterThan(Date.now());
    expect(Date.parse(dstEntry.rateControl.pausedUntil)).toBeLessThanOrEqual(Date.now() + 8_000);
    const srcEntry = (await registries()).find((r) => r.registry === 'src')!;
    expect(srcEntry.rateControl).toEqual({ limit: 'unlimited', backingOff: false });

    // The pause ends and the copy goes through the same (real) registry.
    await arrives(`${proxy.host}/app:v1`, image.bytes, 60_000);
  }, 90_000);
});

describe('rateView', () => {
  it('shows a cut rate and the pull quota a registry reported', () => {
    let now = 1_000_000;
    const rate = new RateController({ registry: 'hub', ceiling: 10, minRemaining: 5, now: () => now });
    const headers: Record<string, string> = { 'ratelimit-remaining': '3;w=21600', 'ratelimit-limit': '100;w=21600' };
    rate.observe(200, (name) => headers[name]);
    rate.observe(429, () => undefined);
    const view = rateView(rate, now);
    expect(view.rateControl).toEqual({ limit: 4.5, backingOff: true, backOffFrom: 9 });
    expect(view.pullQuota).toEqual({
      remaining: 3, limit: 100, windowSeconds: 21600, seenAt: new Date(now).toISOString(),
      pausedUntil: new Date(now + 3 * 216_000).toISOString(),
    });
    now += 60_000;
    expect(rateView(rate, now).rateControl).toEqual({ limit: 9, backingOff: false });
  });
});
