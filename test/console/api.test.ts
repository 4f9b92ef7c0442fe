// The control-plane HTTP API of `ferry serve` (what the console calls), in process, on both
// backends: embedded SQLite, and the AWS adapters against fauxqs + dynalite. Registries
// here refuse connections, so every job fails and waits for its retry: the states the
// actions act on. Copies through real registries are in test/console/browser.test.ts.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAwsBackend } from '../../shared/adapters/aws/index.js';
import { configSchema, type FerryConfig } from '../../shared/config/schema.js';
import type { Backend } from '../../shared/jobs/ports.js';
import { silentLogger } from '../../shared/observability/logger.js';
import { freePort } from '../../infra/local/demo/distribution.js';
import { startHost, type Host } from '../../infra/local/serve/host.js';
import { emulatorCredentials, startAwsEmulators, type AwsEmulators } from '../aws-emulators/index.js';

const SECRET = 'hook-secret';
const TOKEN = 'admin-secret';

async function makeConfig(dataDir: string): Promise<FerryConfig> {
  const closed = await freePort();
  return configSchema.parse({
    dataDir,
    registries: {
      src: { url: `http://127.0.0.1:${closed}`, insecure: true, webhook: { secret: SECRET } },
      dst: { url: `http://127.0.0.1:${closed}`, insecure: true },
      spare: { url: `http://127.0.0.1:${closed}`, insecure: true },
    },
    policies: [{ name: 'all', source: 'src', destinations: [{ registry: 'dst' }] }],
    worker: { concurrency: 1, retryDelay: '60s', maxAttempts: 3 },
    admin: { token: TOKEN },
  });
}

function event(action: 'push' | 'pull', repository: string, tag: string): string {
  return JSON.stringify({
    events: [{
      id: randomUUID(), timestamp: new Date().toISOString(), action,
      target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 100, digest: `sha256:${'a'.repeat(64)}`, length: 100, repository, url: 'http://ignored/', tag },
      request: { id: randomUUID(), addr: '127.0.0.1:1', host: 'src', method: action === 'push' ? 'PUT' : 'GET', useragent: 'test' },
      actor: {}, source: { addr: 'src', instanceID: randomUUID() },
    }],
  });
}

// biome-ignore lint/suspicious/noExplicitAny: loose reads of API answers in assertions
type Json = Record<string, any>;

function describeApi(name: string, openBackend: (config: FerryConfig) => Promise<Backend | undefined>, setup?: { before(): Promise<void>; after(): Promise<void> }): void {
  describe(`control-plane API: ${name}`, () => {
    let dir: string;
    let host: Host;

    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> => {
      const res = await fetch(`${host.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, json: (await res.json()) as Json };
    };
    const webhook = async (body: string) => fetch(`${host.url}/webhooks/src`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body });
    async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
      const end = Date.now() + ms;
      for (;;) {
        const v = await probe();
        if (v !== undefined) return v;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const jobIn = (id: string, statuses: string[]) => until(`job ${id} in ${statuses.join('/')}`, async () => {
      const r = await call('GET', `/api/jobs/${id}`);
      return statuses.includes(r.json.status) ? r.json : undefined;
    });

    beforeAll(async () => {
      await setup?.before();
      dir = await mkdtemp(join(tmpdir(), 'ferry-api-'));
      const config = await makeConfig(join(dir, 'data'));
      const backend = await openBackend(config);
      host = await startHost({ config, listen: { host: '127.0.0.1', port: 0 }, logger: silentLogger, ...(backend ? { backend } : {}), digestPushDelaySeconds: 0 });
    }, 60_000);
    afterAll(async () => {
      await host?.stop();
      await rm(dir, { recursive: true, force: true });
      await setup?.after();
    });

    it('cancel and retry: a failed job is cancelled, then retried (attempts reset, error only in the history)', async () => {
      const hook = await webhook(event('push', 'team/app', 'v1'));
      expect(hook.status).toBe(202);
      const id = ((await hook.json()) as Json).jobs[0].id as string;
      const failed = await jobIn(id, ['failed']);
      expect(failed.history).toMatchObject([{ attempt: 1, outcome: 'failed', error: { registry: 'src' } }]);
      const cancelled = await call('POST', `/api/jobs/${id}/cancel`);
      expect(cancelled).toMatchObject({ status: 200, json: { result: 'cancelled', job: { status: 'cancelled' } } });
      expect(await call('POST', `/api/jobs/${id}/cancel`)).toMatchObject({ status: 409, json: { error: 'conflict' } });
      const retried = await call('POST', `/api/jobs/${id}/retry`);
      expect(retried).toMatchObject({ status: 200, json: { result: 'queued', job: { attempts: 0, replays: [{ by: 'admin-api' }] } } });
      expect(retried.json.job.lastError).toBeUndefined();
      const again = await until('the retried run', async () => {
        const r = await call('GET', `/api/jobs/${id}`);
        return r.json.history?.length >= 2 ? r.json : undefined;
      });
      expect(again.history.map((a: Json) => a.outcome)).toEqual(['failed', 'failed']);
      expect(await call('POST', '/api/jobs/nope/retry')).toMatchObject({ status: 404, json: { error: 'job not found' } });
      expect(await call('GET', '/api/jobs?status=cancelled')).toMatchObject({ status: 200 });
    }, 60_000);

    it('pause holds pushed jobs as paused; resume queues them again', async () => {
      expect(await call('POST', '/api/policies/all/pause')).toMatchObject({ status: 200, json: { name: 'all', paused: true, changedBy: 'admin-api' } });
      const hook = await webhook(event('push', 'team/held', 'v1'));
      expect(hook.status).toBe(202);
      const id = ((await hook.json()) as Json).jobs[0].id as string;
      await jobIn(id, ['paused']);
      const policies = await call('GET', '/api/policies');
      expect(policies.json.policies).toMatchObject([{ name: 'all', source: 'src', paused: true, jobs: { paused: 1 } }]);
      const resumed = await call('POST', '/api/policies/all/resume');
      expect(resumed).toMatchObject({ status: 200, json: { paused: false, released: [id] } });
      await jobIn(id, ['queued', 'running', 'failed']);
      expect(await call('POST', '/api/policies/nope/pause')).toMatchObject({ status: 404 });
      expect(await call('GET', '/api/overview')).toMatchObject({ status: 200, json: { queue: expect.any(Object), paused: [] } });
    }, 60_000);

    it('lists webhook deliveries, accepted and ignored, with the sender address', async () => {
      await webhook(event('pull', 'team/app', 'v1'));
      const r = await call('GET', '/api/deliveries?registry=src');
      expect(r.status).toBe(200);
      const [ignored, accepted] = r.json.deliveries as Json[];
      expect(ignored).toMatchObject({ registry: 'src', status: 200, events: 1, jobsCreated: 0, ignored: ['pull'], remoteAddress: expect.stringContaining('127.0.0.1') });
      expect(accepted).toMatchObject({ registry: 'src', status: 202, events: 1, jobsCreated: 1 });
      expect(await call('GET', '/api/deliveries?registry=nope')).toMatchObject({ status: 404 });
      expect(await call('GET', '/api/deliveries?bogus=1')).toMatchObject({ status: 400 });
    });

    it('lists registries with health from real requests (a refused connection is a failure with its reason)', async () => {
      const r = await call('GET', '/api/registries');
      const src = (r.json.registries as Json[]).find((x) => x.registry === 'src')!;
      // The jobs above failed reading the source (the port refuses connections).
      expect(src).toMatchObject({ sourceOf: ['all'], webhookPath: '/webhooks/src', lastFailure: { reason: expect.stringMatching(/ECONNREFUSED|network error/) } });
      expect(src.recent.requests).toBeGreaterThan(0);
      expect((r.json.registries as Json[]).find((x) => x.registry === 'dst')).toMatchObject({ destinationOf: ['all'] });
      expect((r.json.registries as Json[]).find((x) => x.registry === 'spare')!.webhookPath).toBeUndefined();
    });

    it('exposes prom-client process metrics under one prefix and the replication lag histogram', async () => {
      const text = await (await fetch(`${host.url}/metrics`)).text();
      expect(text).toContain('ferry_process_cpu_user_seconds_total');
      expect(text).not.toContain('ferry_process_process_');
      expect(text).toContain('# TYPE ferry_replication_lag_seconds histogram');
    });
  });
}

describeApi('embedded', async () => undefined);

let emulators: AwsEmulators;
describeApi('aws (fauxqs + dynalite)', async () => {
  const id = randomUUID().slice(0, 8);
  return openAwsBackend(
    { region: emulators.region, table: `api-${id}`, createMissing: true, queueUrl: `${emulators.sqsEndpoint}/000000000000/api-${id}` },
    { endpoints: { sqs: emulators.sqsEndpoint, dynamodb: emulators.dynamoEndpoint }, credentials: emulatorCredentials, scanWaitSeconds: 0 },
  );
}, {
  before: async () => { emulators = await startAwsEmulators(); },
  after: async () => { await emulators?.stop(); },
});
