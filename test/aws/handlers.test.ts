// The handlers' own logic, apart from AWS: event translation, ECR routing, secrets by
// reference, the baked config round trip, and how the worker maps job results onto a
// partial batch response (against a real SQS queue in fauxqs).
import { describe, expect, it, beforeAll, afterAll, vi } from 'vitest';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BakedConfigError, bakeConfig, readBakedConfig } from '../../functions/lib/baked-config.js';
import { ecrRegistryFor } from '../../functions/lib/ecr-routing.js';
import type { LambdaFunctionURLEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import { cachedSource, credentialsFromSecret, resolveSecrets, SecretResolutionError, webhookSecretValue } from '../../functions/lib/secrets.js';
import { createWebhookApp, toFunctionUrlResult, toWebhookRequest } from '../../functions/webhook.js';
import { abortMarginMs, handleSqsBatch, type WorkerApp } from '../../functions/worker.js';
import { handleAdmin, type AdminApp } from '../../functions/admin.js';
import { createControlPlane } from '../../shared/control/control-plane.js';
import { enqueue } from '../../shared/jobs/enqueue.js';
import { openAwsBackend, type AwsBackend } from '../../shared/adapters/aws/index.js';
import { parseConfigText } from '../../shared/config/load.js';
import type { RunResult, JobRunner } from '../../shared/jobs/runner.js';
import { silentLogger } from '../../shared/observability/logger.js';
import { EmfMetrics } from '../../functions/lib/emf-metrics.js';
import { functionUrlEvent, sqsRecord } from './lambda-harness.js';
import { FIXTURE_SECRET, loadFixture } from '../fixtures/load.js';
import { emulatorCredentials, startAwsEmulators, type AwsEmulators } from '../aws-emulators/index.js';

const config = parseConfigText(`
registries:
  src: { url: "https://src.example.com", webhook: { secret: plain, allowUnauthenticated: false } }
  ecr1: { url: "https://111122223333.dkr.ecr.eu-west-1.amazonaws.com", kind: ecr }
  ecr2: { url: "https://444455556666.dkr.ecr.us-east-1.amazonaws.com", kind: ecr, webhook: { secretArn: "arn:aws:secretsmanager:us-east-1:1:secret:hook" } }
  vault: { url: "https://vault.example.com", auth: { secretArn: "arn:aws:secretsmanager:us-east-1:1:secret:creds" } }
policies:
  - { name: p, source: src, destinations: [{ registry: vault }] }
worker: { retryDelay: 2s, visibilityTimeout: 90s, bandwidth: "10MiB/s" }
retention: 48h
`, 'handlers.yaml', {});

describe('webhook: Function URL events', () => {
  const event = (over: Partial<LambdaFunctionURLEvent>): LambdaFunctionURLEvent => ({
    ...functionUrlEvent({ path: '/webhooks/src', query: 'token=abc' }), headers: {}, ...over,
  });

  it('path, method, query, lower-cased headers and the body become a WebhookRequest', () => {
    const req = toWebhookRequest(event({ headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': 'sha256=00' }, queryStringParameters: { token: 'abc' }, body: '{"a":1}' }));
    expect(req).toMatchObject({ method: 'POST', path: '/webhooks/src', query: { token: 'abc' }, headers: { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=00' } });
    expect(req.body.toString()).toBe('{"a":1}');
  });

  it('base64 bodies are decoded to their exact bytes; no body is an empty buffer', () => {
    const bytes = Buffer.from([0, 255, 10, 13, 123]);
    expect(toWebhookRequest(event({ body: bytes.toString('base64'), isBase64Encoded: true })).body.equals(bytes)).toBe(true);
    expect(toWebhookRequest(event({})).body.length).toBe(0);
  });

  it('answers carry JSON and any extra headers', () => {
    expect(toFunctionUrlResult({ status: 405, body: { error: 'method not allowed' }, headers: { allow: 'POST' } }))
      .toEqual({ statusCode: 405, headers: { 'content-type': 'application/json', allow: 'POST' }, body: '{"error":"method not allowed"}' });
  });
});

describe('webhook: EventBridge routing', () => {
  it('picks the ECR registry whose URL names the event account and region', () => {
    expect(ecrRegistryFor(config, { account: '111122223333', region: 'eu-west-1' })).toBe('ecr1');
    expect(ecrRegistryFor(config, { account: '444455556666', region: 'us-east-1' })).toBe('ecr2');
    expect(ecrRegistryFor(config, { account: '111122223333', region: 'us-east-1' })).toBeUndefined();
  });
});

describe('secrets by reference', () => {
  it('registry credentials: {"username","password"} or {"token"}; anything else is an error naming the ARN', () => {
    expect(credentialsFromSecret('{"username":"u","password":"p"}', 'arn:x', 'r')).toEqual({ username: 'u', password: 'p' });
    expect(credentialsFromSecret('{"token":"t"}', 'arn:x', 'r')).toEqual({ token: 't' });
    expect(() => credentialsFromSecret('not json', 'arn:x', 'r')).toThrow(/registries\.r\.auth\.secretArn: arn:x is not JSON/);
    expect(() => credentialsFromSecret('{"user":"u"}', 'arn:x', 'r')).toThrow(SecretResolutionError);
  });

  it('webhook secrets: the plain string, or {"secret": ...}', () => {
    expect(webhookSecretValue('s3cret')).toBe('s3cret');
    expect(webhookSecretValue('{"secret":"s3cret"}')).toBe('s3cret');
  });

  it('resolves only what the function needs, fetching each ARN once; a failed fetch is retried later', async () => {
    const fetched: string[] = [];
    let fail = true;
    const source = cachedSource(async (arn) => {
      fetched.push(arn);
      if (arn.endsWith(':hook') && fail) throw new Error('AccessDenied');
      return arn.endsWith(':hook') ? 'hook-secret' : '{"username":"u","password":"p"}';
    });
    const workerConfig = await resolveSecrets(config, source, { webhookSecrets: false, registryCredentials: true });
    expect(workerConfig.registries.vault!.auth).toEqual({ username: 'u', password: 'p' });
    expect(workerConfig.registries.ecr2!.webhook.secret).toBeUndefined();

    await expect(resolveSecrets(config, source, { webhookSecrets: true, registryCredentials: false })).rejects.toThrow(/registries\.ecr2\.webhook\.secretArn: cannot read .*AccessDenied/);
    fail = false;
    const hookConfig = await resolveSecrets(config, source, { webhookSecrets: true, registryCredentials: true });
    expect(hookConfig.registries.ecr2!.webhook.secret).toBe('hook-secret');
    expect(fetched.filter((a) => a.endsWith(':creds'))).toHaveLength(1);
    expect(fetched.filter((a) => a.endsWith(':hook'))).toHaveLength(2);
  });
});

describe('baked config', () => {
  const env = { FERRY_QUEUE_URL: 'https://q', FERRY_DLQ_URL: 'https://d', FERRY_TABLE: 'jobs', AWS_REGION: 'eu-central-1' };

  it('round-trips everything but plaintext secrets; durations and bandwidth keep their values', () => {
    const back = readBakedConfig(bakeConfig(config).json, env);
    expect(back.worker).toEqual(config.worker);
    expect(back.retention).toBe(config.retention);
    expect(back.policies).toEqual(config.policies);
    expect(back.registries.vault).toEqual(config.registries.vault);
    expect(back.registries.src!.webhook).toEqual({ allowUnauthenticated: false });
    expect(back.aws).toEqual({ region: 'eu-central-1', queueUrl: 'https://q', deadLetterQueueUrl: 'https://d', table: 'jobs', createMissing: false });
  });

  it('fails clearly without the stack environment or with a damaged file', () => {
    expect(() => readBakedConfig(bakeConfig(config).json, {})).toThrow(/missing environment: FERRY_QUEUE_URL, FERRY_DLQ_URL, FERRY_TABLE/);
    expect(() => readBakedConfig('{', env)).toThrow(BakedConfigError);
    expect(() => readBakedConfig('{"registries":{"x":{"url":"nope"}}}', env)).toThrow(/registries\.x\.url/);
  });
});

describe('worker: partial batch responses', () => {
  let emulators: AwsEmulators;
  let backend: AwsBackend;
  let sqs: SQSClient;

  beforeAll(async () => {
    emulators = await startAwsEmulators();
    backend = await openAwsBackend({ region: emulators.region, table: 'worker-test', createMissing: true, queueUrl: 'http://x/000000000000/worker-test' },
      { endpoints: { sqs: emulators.sqsEndpoint, dynamodb: emulators.dynamoEndpoint }, credentials: emulatorCredentials });
    sqs = new SQSClient({ region: emulators.region, endpoint: emulators.sqsEndpoint, credentials: emulatorCredentials, useQueueUrlAsEndpoint: false });
  }, 60_000);
  afterAll(async () => {
    sqs?.destroy();
    await backend?.close();
    await emulators?.stop();
  });

  /** Real messages (real receipt handles) carrying job ids that tell the scripted runner what to return. */
  async function batch(bodies: string[]): Promise<SQSEvent> {
    for (const body of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: backend.resources.queueUrl, MessageBody: body }));
    const records: SQSRecord[] = [];
    const wanted = new Set(bodies);
    while (records.length < bodies.length) {
      const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: backend.resources.queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60, MessageSystemAttributeNames: ['All'] }));
      for (const m of res.Messages ?? []) {
        // Leftovers of earlier cases (released with visibility 0) are dropped.
        if (!wanted.has(m.Body!)) await sqs.send(new DeleteMessageCommand({ QueueUrl: backend.resources.queueUrl, ReceiptHandle: m.ReceiptHandle! }));
        else records.push(sqsRecord(m));
      }
    }
    return { Records: records };
  }

  /** stdout lines written while `fn` runs (Powertools writes EMF there, as Lambda expects). */
  async function captureStdout(fn: () => Promise<unknown>): Promise<string[]> {
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { chunks.push(String(chunk)); return true; });
    try {
      await fn();
    } finally {
      spy.mockRestore();
    }
    return chunks.join('').split('\n').filter((l) => l.trim() !== '');
  }

  function app(runner: JobRunner, batchConcurrency = 10): WorkerApp {
    return { runner, queue: backend.queue, logger: silentLogger, retryDelayMs: 1000, batchConcurrency };
  }

  const body = (jobId: string) => JSON.stringify({ jobId, key: `k-${jobId}` });
  const context = (remainingMs = 900_000) => ({ getRemainingTimeInMillis: () => remainingMs });

  it('retry, deferred, unexpected errors and unreadable bodies are failures; succeeded, skipped, dead and duplicate are not', async () => {
    const results: Record<string, RunResult | Error> = { a: 'succeeded', b: 'skipped', c: 'dead', d: 'duplicate', e: 'retry', f: 'deferred', g: new Error('DynamoDB unavailable') };
    const event = await batch([...Object.keys(results).map(body), 'not a job']);
    const seen: string[] = [];
    const response = await handleSqsBatch(app({
      async handle(received) {
        seen.push(`${received.message.jobId}:${received.receiveCount}`);
        const r = results[received.message.jobId]!;
        if (r instanceof Error) throw r;
        return r;
      },
    }), event, context());
    const byBody = new Map(event.Records.map((r) => [r.messageId, r.body]));
    expect(response.batchItemFailures.map((f) => byBody.get(f.itemIdentifier)).sort()).toEqual([body('e'), body('f'), body('g'), 'not a job'].sort());
    expect(seen.sort()).toEqual(['a:1', 'b:1', 'c:1', 'd:1', 'e:1', 'f:1', 'g:1']);
  });

  it('records each record\'s queue lag and publishes the collected metrics as one EMF line at the end of the batch', async () => {
    const event = await batch([body('lag-1'), body('lag-2')]);
    await new Promise((r) => setTimeout(r, 1100));
    const metrics = new EmfMetrics('ferry-worker');
    const lines = await captureStdout(() => handleSqsBatch({ ...app({
      async handle() {
        metrics.recordStats({ blobs: { copied: 2, skipped: 1, mounted: 0 }, bytes: 4096 });
        return 'succeeded';
      },
    }), metrics }, event, context()));
    const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Metrics: Array<{ Name: string; Unit: string }> }> } });
    expect(emf).toHaveLength(1);
    const [line] = emf;
    expect(line!._aws.CloudWatchMetrics[0]!.Namespace).toBe('ferry');
    expect(line!._aws.CloudWatchMetrics[0]!.Metrics).toEqual(expect.arrayContaining([
      { Name: 'QueueLag', Unit: 'Seconds' }, { Name: 'BytesCopied', Unit: 'Bytes' }, { Name: 'BlobsCopied', Unit: 'Count' },
    ]));
    expect(line!.service).toBe('ferry-worker');
    expect(line!.BytesCopied).toEqual([4096, 4096]);
    const lags = line!.QueueLag as number[];
    expect(lags).toHaveLength(2);
    for (const lag of lags) expect(lag).toBeGreaterThanOrEqual(1);
  });

  it('runs at most batchConcurrency records at once', async () => {
    const event = await batch(['1', '2', '3', '4', '5', '6'].map(body));
    let running = 0;
    let peak = 0;
    await handleSqsBatch(app({
      async handle() {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 50));
        running--;
        return 'succeeded';
      },
    }, 2), event, context());
    expect(peak).toBe(2);
  });

  it('aborts running jobs before the invocation deadline, leaving the margin to release them', async () => {
    expect(abortMarginMs(900_000)).toBe(60_000);
    expect(abortMarginMs(20_000)).toBe(5_000);
    const event = await batch([body('slow')]);
    let reason: unknown;
    const started = Date.now();
    const response = await handleSqsBatch(app({
      handle(_received, signal) {
        return new Promise<RunResult>((resolve) => {
          signal!.addEventListener('abort', () => { reason = signal!.reason; resolve('retry'); });
        });
      },
    }), event, context(5_300));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(String(reason)).toMatch(/deadline/);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]!.messageId }]);
  });
});

describe('webhook: deferred digest-only pushes (FERRY_DIGEST_PUSH_DELAY)', () => {
  let emulators: AwsEmulators;
  let backend: AwsBackend;
  const hookConfig = parseConfigText(`
registries:
  src: { url: "https://src.example.com", webhook: { secret: ${FIXTURE_SECRET} } }
  dr: { url: "https://dr.example.com" }
policies:
  - { name: p, source: src, destinations: [{ registry: dr }] }
`, 'webhook.yaml', {});

  beforeAll(async () => {
    emulators = await startAwsEmulators();
    backend = await openAwsBackend({ region: emulators.region, table: 'webhook-test', createMissing: true, queueUrl: 'http://x/000000000000/webhook-test' },
      { endpoints: { sqs: emulators.sqsEndpoint, dynamodb: emulators.dynamoEndpoint }, credentials: emulatorCredentials });
  }, 60_000);
  afterAll(async () => {
    await backend?.close();
    await emulators?.stop();
  });

  const runtime = () => ({ config: hookConfig, backend, logger: silentLogger, metrics: new EmfMetrics('ferry-test') });

  it('an index child\'s job is queued in SQS with the delay the environment sets; a bad value fails the cold start', async () => {
    const app = createWebhookApp(runtime(), { FERRY_DIGEST_PUSH_DELAY: '2s' });
    // The captured multi-arch push: its first manifest event is a child, pushed by digest.
    const child = loadFixture('distribution', 'push-multi-arch', { path: '/webhooks/src' })
      .find((r) => JSON.parse(r.body.toString()).events.some((e: { target: { mediaType: string; tag?: string } }) => e.target.mediaType.includes('manifest.v1') && !e.target.tag))!;
    const res = await app.http(child);
    expect(res.status).toBe(202);
    const [job] = res.body.jobs as Array<{ id: string; reason: string }>;
    expect(job!.reason).toMatch(/; runs in 2 s \(/);
    expect(await backend.queue.receive(10, 60, 0)).toEqual([]);
    expect((await backend.store.get(job!.id))?.status).toBe('queued');
    await new Promise((r) => setTimeout(r, 2500));
    const got = await backend.queue.receive(10, 60, 1);
    expect(got.map((m) => m.message.jobId)).toEqual([job!.id]);
    await backend.queue.ack(got[0]!.receipt);

    expect(() => createWebhookApp(runtime(), { FERRY_DIGEST_PUSH_DELAY: 'later' })).toThrow(/FERRY_DIGEST_PUSH_DELAY/);
  }, 30_000);
});

describe('admin: cancel, retry, pause, resume, deliveries (DynamoDB + SQS in the emulators)', () => {
  let emulators: AwsEmulators;
  let backend: AwsBackend;
  let adminApp: AdminApp;

  beforeAll(async () => {
    emulators = await startAwsEmulators();
    backend = await openAwsBackend({ region: emulators.region, table: 'admin-test', createMissing: true, queueUrl: 'http://x/000000000000/admin-test' },
      { endpoints: { sqs: emulators.sqsEndpoint, dynamodb: emulators.dynamoEndpoint }, credentials: emulatorCredentials });
    adminApp = {
      backend,
      sync: async () => ({ policies: [] }),
      control: createControlPlane({ config, backend }),
    };
  }, 60_000);
  afterAll(async () => {
    await backend?.close();
    await emulators?.stop();
  });

  const spec = (reference: string) => ({ policy: 'p', source: { registry: 'src', repository: 'team/app', reference }, destination: { registry: 'vault', repository: 'team/app' } });
  const trigger = { kind: 'manual' as const, at: new Date().toISOString() };

  it('cancels a queued job and retries it; answers per id, unknown ids included', async () => {
    const [queued] = await enqueue({ queue: backend.queue, store: backend.store }, [spec('c1')], trigger);
    const id = queued!.job.id;
    expect(await handleAdmin(adminApp, { action: 'cancel', ids: [id, 'missing'], by: 'ops' })).toEqual({
      results: [{ id, ok: true, result: 'cancelled', status: 'cancelled' }, { id: 'missing', ok: false, detail: 'no job with id "missing"' }],
    });
    expect(await handleAdmin(adminApp, { action: 'retry', ids: [id] })).toEqual({ results: [{ id, ok: true, result: 'queued', status: 'queued' }] });
    const job = await backend.store.get(id);
    expect(job).toMatchObject({ status: 'queued', attempts: 0, replays: [{ by: 'admin-function' }] });
    expect(job?.lastError).toBeUndefined();
    expect(await handleAdmin(adminApp, { action: 'retry', ids: [id] })).toMatchObject({ results: [{ id, ok: false, status: 'queued' }] });
  });

  it('pauses and resumes a policy: held jobs are queued again in order', async () => {
    expect(await handleAdmin(adminApp, { action: 'pause', policy: 'p', by: 'ops' })).toMatchObject({ name: 'p', paused: true, changedBy: 'ops' });
    const results = await enqueue({ queue: backend.queue, store: backend.store }, [spec('h1')], trigger);
    const id = results[0]!.job.id;
    // What the worker does with a job of a paused policy.
    await backend.store.transition(id, ['queued'], { status: 'paused' });
    const listed = await handleAdmin(adminApp, { action: 'policies' });
    expect(listed).toMatchObject({ policies: [{ name: 'p', paused: true, jobs: { paused: 1 } }] });
    expect(await handleAdmin(adminApp, { action: 'resume', policy: 'p' })).toMatchObject({ paused: false, released: [id] });
    expect((await backend.store.get(id))?.status).toBe('queued');
    expect(await handleAdmin(adminApp, { action: 'pause', policy: 'nope' })).toMatchObject({ error: 'unknown policy' });
  });

  it('lists recorded deliveries', async () => {
    await backend.control.recordDelivery({ id: 'd1', at: new Date().toISOString(), registry: 'src', status: 200, events: 1, jobsCreated: 0, jobIds: [], ignored: ['pull'] });
    expect(await handleAdmin(adminApp, { action: 'deliveries', registry: 'src' })).toMatchObject({ deliveries: [{ id: 'd1', ignored: ['pull'] }] });
    expect(await handleAdmin(adminApp, { action: 'deliveries', registry: 'nope' })).toMatchObject({ error: 'unknown registry' });
  });
});
