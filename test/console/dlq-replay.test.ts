// The console's Dead letters page in real Chromium: a copy dead-letters because its
// destination (a real Distribution behind the fault proxy, answering 503 for everything
// while "down") is unavailable; the destination returns, Replay is clicked, and the image
// arrives digest-identical and the job shows succeeded with its failed attempts in its history.
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, type Browser } from './chromium.js';
import { pushRandomImage } from '../testbed/images.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { startRegistry, stopRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { arrives, eventually, rawOrUndefined, startScenario, type Scenario } from '../e2e/scenario.js';

const TOKEN = 'console-dlq-token-0123456789';

describe.skipIf(!existsSync(CHROMIUM))('console in Chromium: dead letter replay', () => {
  let s: Scenario;
  let down: DistributionRegistry;
  let proxy: FaultProxy;
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    down = await startRegistry({ name: 'dlq-dst' });
    proxy = await startFaultProxy(down.url);
    s = await startScenario({
      adminToken: TOKEN,
      registries: { far: { url: proxy.url, insecure: true } },
      policies: [{ name: 'apps', source: 'src', repositories: ['app/**'], destinations: [{ registry: 'far' }] }],
      worker: { concurrency: 1, retryDelay: '200ms', maxAttempts: 2 },
    });
    browser = await launchChromium();
    ({ page } = browser);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    await proxy?.stop();
    await stopRegistries([down]);
  });

  it('a job dead-lettered while the destination was down is replayed from the DLQ page and arrives', async () => {
    // The destination is down: every request gets 503 until the rule is removed.
    proxy.inject({ match: {}, fault: { kind: 'status', status: 503 }, times: Number.POSITIVE_INFINITY });
    const image = await pushRandomImage(`${s.src.host}/app/web:v1`, { layerSizes: [64 * 1024] });
    const dead = await eventually('the copy to be dead-lettered', async () => {
      const { body } = await s.api<{ dead: Array<{ jobId: string; job?: { source: { repository: string } } }> }>('GET', '/api/dlq');
      return body.dead.find((d) => d.job?.source.repository === 'app/web');
    }, 120_000, 250);
    expect(proxy.requests.some((r) => r.status === 503)).toBe(true);
    expect(await rawOrUndefined(`${down.host}/app/web:v1`)).toBeUndefined();

    // The destination returns.
    proxy.reset();

    await page.goto(s.ferry.url);
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('link', { name: 'Dead letters', exact: true }).click();
    await page.getByRole('heading', { name: 'Dead letters', exact: true }).waitFor();
    await page.getByLabel(`select ${dead.jobId}`).check();
    await page.getByRole('button', { name: 'Replay selected' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('replayed 1');

    await arrives(`${down.host}/app/web:v1`, image.bytes, 60_000);
    const { body: job } = await s.api<{ status: string }>('GET', `/api/jobs/${encodeURIComponent(dead.jobId)}`);
    expect(job.status).toBe('succeeded');

    await page.goto(`${s.ferry.url}/#/jobs/${encodeURIComponent(dead.jobId)}`);
    await page.getByRole('heading', { name: /^Job / }).waitFor();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 20_000 }).toBe('succeeded');
    const rows = page.getByRole('table').getByRole('row');
    // Header, the two attempts against the down destination (the second dead-lettered it),
    // then the replay's successful attempt.
    await expect.poll(() => rows.count()).toBe(4);
    const texts = await rows.allTextContents();
    expect(texts[1]).toMatch(/^1.*failed.*HTTP 503/);
    expect(texts[2]).toMatch(/^2.*dead.*HTTP 503/);
    expect(texts[3]).toMatch(/^1.*succeeded.*KiB/);
    // The manifest was read back byte-identical above; its digest at the destination is the source's.
    const head = await fetch(`${down.url}/v2/app/web/manifests/v1`, { method: 'HEAD', headers: { accept: image.mediaType } });
    expect(head.headers.get('docker-content-digest')).toBe(image.digest);
  }, 240_000);
});
