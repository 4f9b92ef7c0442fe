// The console in real Chromium (Debian's /usr/bin/chromium driven by playwright-core)
// against a real `ferry serve` process replicating between two real Distribution
// registries (test/testbed): login, live job list, job detail, pause/resume, sync and
// verify, webhook deliveries, and an axe-core accessibility scan of every page.
// FERRY_SCREENSHOTS=DIR saves a screenshot of each page there (docs/screenshots).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, type Browser } from './chromium.js';
import { pushRandomImage } from '../testbed/images.js';
import { arrives, eventually, startScenario, type Scenario } from '../e2e/scenario.js';

const TOKEN = 'console-test-token-0123456789';
const shots = process.env.FERRY_SCREENSHOTS;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

describe.skipIf(!existsSync(CHROMIUM))('console in Chromium', () => {
  let s: Scenario;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  const src = (ref: string) => `${s.src.host}/${ref}`;
  const dst = (ref: string) => `${s.dst.host}/${ref}`;

  beforeAll(async () => {
    s = await startScenario({
      adminToken: TOKEN,
      policies: [{ name: 'apps', source: 'src', repositories: ['app/**'], destinations: [{ registry: 'dst' }] }],
      // Slow enough that a 6 MiB layer is still copying when the test cancels it.
      worker: { bandwidth: '1MiB/s' },
    });
    browser = await launchChromium();
    ({ context, page } = browser);
    if (shots) mkdirSync(shots, { recursive: true });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  async function shot(name: string): Promise<void> {
    if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  }

  /** axe-core in the page (evaluated, so the console's CSP need not allow it); serious/critical only. */
  async function axeViolations(): Promise<string[]> {
    await page.evaluate(axeSource);
    const result = await page.evaluate(async () => {
      const g = globalThis as unknown as { document: unknown; axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; nodes: unknown[] }> }> } };
      return g.axe.run(g.document, { resultTypes: ['violations'] });
    });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes)`);
  }

  it('refuses a wrong token, then logs in with the right one into an HttpOnly SameSite=Strict cookie', async () => {
    await page.goto(s.ferry.url);
    await page.getByLabel('Admin token').fill('wrong-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Wrong admin token');
    expect(await axeViolations()).toEqual([]);
    await shot('login');
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const cookies = await context.cookies();
    expect(cookies).toEqual([expect.objectContaining({ name: 'ferry_session', httpOnly: true, sameSite: 'Strict' })]);
    expect(page.url()).not.toContain(TOKEN);
    // The cookie does not let another origin change state.
    const forged = await fetch(`${s.ferry.url}/api/policies/apps/pause`, { method: 'POST', headers: { cookie: `ferry_session=${cookies[0]!.value}`, origin: 'http://evil.example' } });
    expect(forged.status).toBe(403);
  }, 60_000);

  it('a real push appears in the live job list and succeeds; the detail shows attempts and bytes', async () => {
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor();
    const image = await pushRandomImage(src('app/web:v1'), { layerSizes: [64 * 1024, 128 * 1024] });
    await arrives(dst('app/web:v1'), image.bytes);
    const row = page.getByRole('row').filter({ hasText: 'app/web:v1' });
    await expect.poll(() => row.first().textContent(), { timeout: 20_000 }).toContain('succeeded');
    expect(await axeViolations()).toEqual([]);
    await shot('jobs');
    await row.first().getByRole('link').click();
    await page.getByRole('heading', { name: /^Job / }).waitFor();
    await expect.poll(() => page.getByTestId('job-status').textContent()).toBe('succeeded');
    const attempts = page.getByRole('table').getByRole('row');
    await expect.poll(() => attempts.count()).toBe(2);
    const attempt = await attempts.nth(1).textContent();
    expect(attempt).toMatch(/^1.*succeeded.*KiB/);
    expect(await axeViolations()).toEqual([]);
    await shot('job-detail');
  }, 90_000);

  it('a bandwidth-limited running copy is cancelled, then retried to success', async () => {
    const image = await pushRandomImage(src('app/big:v1'), { layerSizes: [6 * 1024 * 1024] });
    const id = await eventually('the big copy running', async () => {
      const { body } = await s.api<{ jobs: Array<{ id: string; status: string; source: { repository: string } }> }>('GET', '/api/jobs?status=running');
      return body.jobs.find((j) => j.source.repository === 'app/big')?.id;
    });
    await page.goto(`${s.ferry.url}/#/jobs/${id}`);
    await expect.poll(() => page.getByTestId('job-status').textContent()).toBe('running');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 20_000 }).toBe('cancelled');
    await shot('job-cancelled');
    await page.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 40_000 }).toBe('succeeded');
    await arrives(dst('app/big:v1'), image.bytes);
    const outcomes = await page.getByRole('table').getByRole('row').allTextContents();
    expect(outcomes[1]).toMatch(/cancelled/);
    expect(outcomes[2]).toMatch(/succeeded/);
  }, 120_000);

  it('a paused policy holds a pushed image until resumed', async () => {
    await page.getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('button', { name: 'Pause apps' }).click();
    await page.getByRole('button', { name: 'Resume apps' }).waitFor();
    const image = await pushRandomImage(src('app/held:v1'));
    await eventually('the pushed job held as paused', async () => {
      const { body } = await s.api<{ jobs: Array<{ status: string; source: { repository: string } }> }>('GET', '/api/jobs?status=paused');
      return body.jobs.find((j) => j.source.repository === 'app/held') ? true : undefined;
    });
    await expect.poll(() => page.getByRole('row').filter({ hasText: 'apps' }).first().textContent(), { timeout: 10_000 }).toContain('paused 1');
    expect(await axeViolations()).toEqual([]);
    await shot('policies');
    await page.getByRole('button', { name: 'Resume apps' }).click();
    await arrives(dst('app/held:v1'), image.bytes);
  }, 90_000);

  it('sync now and verify show their results', async () => {
    await page.getByRole('button', { name: 'Sync apps now' }).click();
    await expect.poll(() => page.getByTestId('sync-result').textContent(), { timeout: 30_000 }).toMatch(/jobs enqueued, \d+ tags in sync, 0 errors/);
    await page.getByRole('button', { name: 'Verify apps' }).click();
    await expect.poll(() => page.getByTestId('verify-result').textContent(), { timeout: 30_000 }).toBe('In sync');
    await shot('policies-verify');
  }, 90_000);

  it('lists webhook deliveries, accepted and ignored', async () => {
    // An event the policy ignores (a repository no policy covers), as the registry would send it.
    const ignored = await fetch(`${s.ferry.url}/webhooks/src`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.webhookSecret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ id: 'ignored-1', timestamp: new Date().toISOString(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'b'.repeat(64)}`, repository: 'other/thing', tag: 'v1', size: 1, length: 1, url: 'http://x/' }, request: { id: 'r', addr: '127.0.0.1', host: 'src', method: 'PUT', useragent: 't' }, actor: {}, source: { addr: 'src', instanceID: 'i' } }] }),
    });
    expect(ignored.status).toBe(200);
    await page.getByRole('link', { name: 'Deliveries' }).click();
    await page.getByRole('heading', { name: 'Webhook deliveries' }).waitFor();
    await expect.poll(async () => (await page.getByRole('row').allTextContents()).join('\n'), { timeout: 10_000 }).toMatch(/src127\.0\.0\.1200\d+0.*no policy/);
    expect((await page.getByRole('row').allTextContents()).some((r) => /src.*202\d+[1-9]/.test(r))).toBe(true);
    expect(await axeViolations()).toEqual([]);
    await shot('deliveries');
  }, 60_000);

  it('overview, registries and dead letters render without accessibility violations, on a phone too', async () => {
    for (const [link, heading, name] of [['Overview', 'Overview', 'overview'], ['Registries', 'Registries', 'registries'], ['Dead letters', 'Dead letters', 'dlq']] as const) {
      await page.getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      if (name === 'registries') {
        // Health from this process's real requests to the source: a latency p50 is shown, then
        // the rate control (nothing throttled: unlimited) and an empty pull quota.
        await expect.poll(() => page.getByRole('row').filter({ hasText: 'source of apps' }).first().textContent()).toMatch(/\d+ msunlimited$/);
      }
      expect(await axeViolations()).toEqual([]);
      await shot(name);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor();
    await page.getByRole('row').filter({ hasText: 'app/web:v1' }).first().waitFor();
    expect(await axeViolations()).toEqual([]);
    await shot('jobs-phone');
    // A table wider than the phone scrolls sideways; with no rows (no link inside) it must
    // still be reachable from the keyboard.
    await page.getByLabel('Status').selectOption('skipped');
    await expect.poll(() => page.getByRole('row').count()).toBe(1);
    expect(await axeViolations()).toEqual([]);
    await page.getByLabel('Status').selectOption('');
    // Keyboard: after a fresh load the skip link is the first stop, navigation follows.
    await page.reload();
    await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent)).toBe('Skip to content');
  }, 60_000);

  it('logs out', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Admin token').waitFor();
    const r = await page.evaluate(async () => (await fetch('/api/jobs')).status);
    expect(r).toBe(401);
  }, 30_000);
});
