// The HTTP surface of `ferry serve`, in process, on the real embedded backend: admin API
// authentication, input validation, error bodies, webhook limits, health and metrics.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type FerryConfig } from '../../shared/config/schema.js';
import { silentLogger } from '../../shared/observability/logger.js';
import { freePort } from '../../infra/local/demo/distribution.js';
import { startHost, type Host } from '../../infra/local/serve/host.js';
import { parsePrometheusText } from './prom-text.js';

const SECRET = 'hook-secret';
const TOKEN = 'admin-secret';

async function makeConfig(dataDir: string, admin: { token?: string } = { token: TOKEN }): Promise<FerryConfig> {
  // Registries that refuse connections: jobs are accepted and then retried, never copied.
  const closed = await freePort();
  return configSchema.parse({
    dataDir,
    registries: {
      src: { url: `http://127.0.0.1:${closed}`, insecure: true, webhook: { secret: SECRET } },
      dst: { url: `http://127.0.0.1:${closed}`, insecure: true },
    },
    policies: [{ name: 'all', source: 'src', destinations: [{ registry: 'dst' }] }],
    worker: { concurrency: 1, retryDelay: '60s', maxAttempts: 3 },
    admin,
  });
}

function pushEvent(repository: string, tag: string): string {
  const digest = `sha256:${'a'.repeat(64)}`;
  return JSON.stringify({
    events: [{
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      action: 'push',
      target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 100, digest, length: 100, repository, url: 'http://ignored/', tag },
      request: { id: randomUUID(), addr: '127.0.0.1:1', host: 'src', method: 'PUT', useragent: 'test' },
      actor: {},
      source: { addr: 'src', instanceID: randomUUID() },
    }],
  });
}

describe('ferry serve HTTP surface', () => {
  let dir: string;
  let host: Host;
  const call = async (method: string, path: string, init: { token?: string | null; body?: string | Buffer; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`;
    const res = await fetch(`${host.url}${path}`, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) as Record<string, unknown> };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-host-'));
    host = await startHost({ config: await makeConfig(join(dir, 'data')), listen: { host: '127.0.0.1', port: 0 }, logger: silentLogger });
  });
  afterAll(async () => {
    await host?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers /healthz with 200 while the backend is reachable', async () => {
    const r = await call('GET', '/healthz', { token: null });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ok' });
  });

  it('answers a malformed job list cursor with 400, not 503', async () => {
    const r = await call('GET', '/api/jobs?cursor=garbage');
    expect(r.status).toBe(400);
    expect(r.json()).toEqual({ error: 'invalid request', detail: expect.stringContaining('invalid job list cursor') });
  });

  it('rejects admin calls without a token or with a wrong one (401 JSON)', async () => {
    for (const token of [null, 'wrong', '']) {
      const r = await call('GET', '/api/jobs', { token });
      expect(r.status).toBe(401);
      expect(r.type).toContain('application/json');
      expect(r.json()).toEqual({ error: 'unauthorized', detail: expect.any(String) });
    }
    const basic = await call('GET', '/api/dlq', { token: null, headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` } });
    expect(basic.status).toBe(401);
  });

  it('validates admin inputs with 400 {error, detail}', async () => {
    const bad = await call('GET', '/api/jobs?status=exploded');
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid request', detail: expect.stringContaining('status') });
    expect((await call('GET', '/api/jobs?limit=0')).status).toBe(400);
    expect((await call('GET', '/api/jobs?colour=blue')).status).toBe(400);
    const replay = await call('POST', '/api/dlq/replay', { body: '{}' });
    expect(replay.status).toBe(400);
    const notJson = await call('POST', '/api/dlq/replay', { body: '{all:' });
    expect(notJson.status).toBe(400);
    expect(notJson.json()).toMatchObject({ error: 'invalid JSON' });
  });

  it('answers unknown jobs, routes and methods with JSON 404/405', async () => {
    const job = await call('GET', '/api/jobs/no-such-job');
    expect(job.status).toBe(404);
    expect(job.json()).toMatchObject({ error: 'job not found' });
    const route = await call('GET', '/nowhere', { token: null });
    expect(route.status).toBe(404);
    expect(route.json()).toMatchObject({ error: 'not found' });
    const malformed = await call('GET', '/api/jobs/%E0%A4%A');
    expect(malformed.status).toBe(400);
    const method = await call('DELETE', '/healthz', { token: null });
    expect(method.status).toBe(405);
    expect(method.json()).toMatchObject({ error: 'method not allowed' });
  });

  it('replays an empty DLQ as nothing', async () => {
    const r = await call('POST', '/api/dlq/replay', { body: JSON.stringify({ all: true }) });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ replayed: [] });
    const list = await call('GET', '/api/dlq');
    expect(list.json()).toEqual({ dead: [] });
  });

  it('refuses webhook bodies over 1 MiB with 413 and unknown registries with 404', async () => {
    const big = await call('POST', '/webhooks/src', { token: null, headers: { authorization: `Bearer ${SECRET}` }, body: Buffer.alloc(1024 * 1024 + 1, 0x20) });
    expect(big.status).toBe(413);
    expect(big.json()).toMatchObject({ error: 'payload too large' });
    const unknown = await call('POST', '/webhooks/elsewhere', { token: null, body: pushEvent('team/app', 'v1') });
    expect(unknown.status).toBe(404);
  });

  it('hands webhooks to intake: wrong secret 401, a push 202 with a job the admin API lists', async () => {
    const denied = await call('POST', '/webhooks/src', { token: null, headers: { authorization: 'Bearer nope' }, body: pushEvent('team/app', 'v1') });
    expect(denied.status).toBe(401);
    const ok = await call('POST', '/webhooks/src', { token: null, headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' }, body: pushEvent('team/app', 'v1') });
    expect(ok.status).toBe(202);
    const body = ok.json() as { accepted: number; jobs: Array<{ id: string }> };
    expect(body.accepted).toBe(1);
    const id = body.jobs[0]!.id;
    const job = await call('GET', `/api/jobs/${id}`);
    expect(job.status).toBe(200);
    expect(job.json()).toMatchObject({ id, policy: 'all', source: { registry: 'src', repository: 'team/app', reference: 'v1' } });
    const listed = await call('GET', '/api/jobs?policy=all&repository=team/app');
    expect((listed.json().jobs as Array<{ id: string }>).map((j) => j.id)).toContain(id);
  });

  it('serves /metrics as valid Prometheus text with ferry families', async () => {
    const r = await call('GET', '/metrics', { token: null });
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/plain');
    const families = parsePrometheusText(r.text);
    for (const name of ['ferry_webhook_requests_total', 'ferry_queue_depth', 'ferry_jobs', 'ferry_job_duration_seconds', 'ferry_bytes_copied_total', 'ferry_blobs_total']) {
      expect(families.has(name), name).toBe(true);
    }
    const webhook = families.get('ferry_webhook_requests_total')!.samples;
    expect(webhook.some((s) => s.labels.status === '202' && s.value >= 1)).toBe(true);
    expect(webhook.some((s) => s.labels.status === '413' && s.labels.registry === 'src')).toBe(true);
    const depth = families.get('ferry_queue_depth')!.samples;
    expect(depth.map((s) => s.labels.state).sort()).toEqual(['dead', 'in_flight', 'queued']);
  });

  it('answers a sync whose source cannot be listed with 502, and unknown policies with 404', async () => {
    const r = await call('POST', '/api/sync', { body: '{}' });
    expect(r.status).toBe(502);
    expect(r.json()).toMatchObject({ error: 'reconcile failed', detail: expect.stringContaining('registry src') });
    const unknown = await call('POST', '/api/sync', { body: JSON.stringify({ policy: 'other' }) });
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'unknown policy' });
    expect((await call('POST', '/api/sync', { body: JSON.stringify({ policies: ['all'] }) })).status).toBe(400);
  });

  it('refuses to start with an invalid schedule, naming the policy', async () => {
    const config = await makeConfig(join(dir, 'data3'));
    config.policies[0]!.schedule = 'every tuesday';
    await expect(startHost({ config, listen: { host: '127.0.0.1', port: 0 }, logger: silentLogger })).rejects.toThrow(/invalid schedule: policies\.all\.schedule/);
  });

  it('answers 403 on every admin route when admin.token is not configured', async () => {
    const other = await startHost({ config: await makeConfig(join(dir, 'data2'), {}), listen: { host: '127.0.0.1', port: 0 }, logger: silentLogger });
    try {
      for (const [method, path] of [['GET', '/api/jobs'], ['GET', '/api/dlq'], ['POST', '/api/sync']] as const) {
        const res = await fetch(`${other.url}${path}`, { method, headers: { authorization: 'Bearer anything' } });
        expect(res.status).toBe(403);
        expect(await res.json()).toEqual({ error: 'admin API disabled', detail: 'admin.token not configured' });
      }
    } finally {
      await other.stop();
    }
  });
});
