// The AWS deployment, end to end on this machine: a real Distribution registry notifies a
// Function URL (an HTTP shim) that invokes the webhook handler; jobs go to SQS (fauxqs) and
// DynamoDB (dynalite); an SQS event source mapping emulation invokes the worker handler with
// batches and honours its partial batch failures; the admin handler lists the DLQ and
// replays. Every handler is the bundle a deploy uploads (AWS SDK included), loaded alone
// from a directory as Lambda loads it. Config reaches the handlers the way a deployment
// bakes it (bakeConfig), and secrets come from Secrets Manager by ARN.
import { SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bakeConfig } from '../../functions/lib/baked-config.js';
import { BUNDLE_FILE, bundleHandlers, writeFunctionAsset, type HandlerName } from '../../infra/aws/bundle.js';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import type { FunctionUrlResult } from '../../functions/webhook.js';
import { openAwsBackend, type AwsBackend } from '../../shared/adapters/aws/index.js';
import { parseConfigText } from '../../shared/config/load.js';
import type { Job } from '../../shared/jobs/model.js';
import { emulatorCredentials, startAwsEmulators, type AwsEmulators } from '../aws-emulators/index.js';
import { inspectRaw, pushRandomImage, SkopeoError, type Credentials } from '../testbed/images.js';
import { startRegistry, stopRegistries, type DistributionRegistry } from '../testbed/registries.js';
import {
  functionUrlEvent, lambdaContext, queueArnOf, startEventSourceMapping, startFunctionUrl, startSecretsManager,
  type EventSourceMapping, type FunctionUrl, type SecretsManagerEndpoint,
} from './lambda-harness.js';

const HOOK_SECRET = `hook-${randomUUID()}`;
const ECR_HOOK_SECRET = `ecr-hook-${randomUUID()}`;
const DST_CREDS: Credentials = { username: 'ferry', password: `pw-${randomUUID()}` };
const HOOK_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:ferry/src-hook-Ab12Cd';
const ECR_HOOK_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:ferry/ecr-hook-Ef34Gh';
const DST_CREDS_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:ferry/dst-creds-Ij56Kl';
const MAX_ATTEMPTS = 2;

type WebhookModule = typeof import('../../functions/webhook.js');
type WorkerModule = typeof import('../../functions/worker.js');
type AdminModule = typeof import('../../functions/admin.js');
type ReconcileModule = typeof import('../../functions/reconcile.js');

let emulators: AwsEmulators;
let secrets: SecretsManagerEndpoint;
let backend: AwsBackend;
let src: DistributionRegistry;
let dst: DistributionRegistry;
let ecrlike: DistributionRegistry;
let functionUrl: FunctionUrl;
let esm: EventSourceMapping;
let webhook: WebhookModule;
let worker: WorkerModule;
let admin: AdminModule;
let reconcile: ReconcileModule;
let workDir: string;
const savedEnv = { ...process.env };
/** Job keys whose worker invocations crash (see the event source mapping below). */
const crashKeys: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(250);
  }
}

async function rawOrUndefined(ref: string, creds?: Credentials): Promise<Buffer | undefined> {
  try {
    return await inspectRaw(ref, creds);
  } catch (err) {
    if (err instanceof SkopeoError && /manifest unknown|not found|404/i.test(err.stderr)) return undefined;
    throw err;
  }
}

/** Waits until `ref` at the destination serves exactly these manifest bytes (same digest). */
async function arrives(ref: string, expected: Buffer, timeoutMs = 90_000): Promise<void> {
  await eventually(`${ref} at the destination`, async () => {
    const raw = await rawOrUndefined(ref, DST_CREDS);
    return raw?.equals(expected) ? true : undefined;
  }, timeoutMs);
}

async function jobsFor(repository: string): Promise<Job[]> {
  const page = await admin.handler({ action: 'jobs', repository, limit: 100 });
  if ('error' in page) throw new Error(`admin jobs: ${page.error}`);
  return (page as { jobs: Job[] }).jobs;
}

function urlEvent(path: string, body: string, headers: Record<string, string>, base64 = false): LambdaFunctionURLEvent {
  return functionUrlEvent({ path, headers, body: base64 ? Buffer.from(body).toString('base64') : body, isBase64Encoded: base64 });
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'ferry-lambda-e2e-'));
  emulators = await startAwsEmulators();
  secrets = await startSecretsManager({
    [HOOK_ARN]: HOOK_SECRET,
    [ECR_HOOK_ARN]: JSON.stringify({ secret: ECR_HOOK_SECRET }),
    [DST_CREDS_ARN]: JSON.stringify(DST_CREDS),
  });
  // What `cdk deploy` creates, made here with the adapter's dev/test setup path.
  backend = await openAwsBackend(
    { region: emulators.region, table: 'ferry-e2e', createMissing: true },
    { maxAttempts: MAX_ATTEMPTS, endpoints: { sqs: emulators.sqsEndpoint, dynamodb: emulators.dynamoEndpoint }, credentials: emulatorCredentials },
  );

  // The environment the stack gives every function, plus the emulators' endpoints.
  Object.assign(process.env, {
    AWS_REGION: emulators.region,
    AWS_ACCESS_KEY_ID: emulatorCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: emulatorCredentials.secretAccessKey,
    AWS_ENDPOINT_URL_SQS: emulators.sqsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    FERRY_QUEUE_URL: backend.resources.queueUrl,
    FERRY_DLQ_URL: backend.resources.deadLetterQueueUrl,
    FERRY_TABLE: backend.resources.table,
    FERRY_BATCH_CONCURRENCY: '2',
    FERRY_LOG_LEVEL: 'warn',
  });

  // The bundles `cdk deploy` uploads, each alone in a directory (no node_modules beside it).
  const bundles = bundleHandlers();
  const load = async <T>(name: HandlerName): Promise<T> => {
    const dir = writeFunctionAsset(join(workDir, 'functions', name), bundles.get(name)!, '{}');
    return import(/* @vite-ignore */ pathToFileURL(join(dir, BUNDLE_FILE)).href) as Promise<T>;
  };
  webhook = await load<WebhookModule>('webhook');
  worker = await load<WorkerModule>('worker');
  admin = await load<AdminModule>('admin');
  reconcile = await load<ReconcileModule>('reconcile');
  functionUrl = await startFunctionUrl((event) => webhook.handler(event));

  [dst, ecrlike] = await Promise.all([
    startRegistry({ name: 'lambda-dst', htpasswd: { users: { [DST_CREDS.username]: DST_CREDS.password } } }),
    startRegistry({ name: 'lambda-ecrlike' }),
  ]);
  src = await startRegistry({
    name: 'lambda-src',
    notifications: [{ url: `${functionUrl.url}/webhooks/src`, headers: { Authorization: [`Bearer ${HOOK_SECRET}`] }, backoff: '500ms', ignoredActions: ['pull'] }],
  });

  const config = parseConfigText(stringify({
    backend: 'aws',
    aws: { region: emulators.region, table: backend.resources.table },
    registries: {
      src: { url: src.url, insecure: true, webhook: { secretArn: HOOK_ARN } },
      // Stands in for an ECR registry behind its own domain: kind ecr, events via EventBridge.
      ecrlike: { url: ecrlike.url, insecure: true, kind: 'ecr', webhook: { secretArn: ECR_HOOK_ARN } },
      dst: { url: dst.url, insecure: true, auth: { secretArn: DST_CREDS_ARN } },
    },
    policies: [
      { name: 'mirror', source: 'src', repositories: ['team/**'], destinations: [{ registry: 'dst' }] },
      { name: 'from-ecr', source: 'ecrlike', destinations: [{ registry: 'dst', repository: 'from-ecr/{repository}' }] },
    ],
    worker: { concurrency: 2, maxAttempts: MAX_ATTEMPTS, retryDelay: '500ms', visibilityTimeout: '20s' },
  }), 'e2e.yaml', {});
  const configFile = join(workDir, 'ferry-config.json');
  writeFileSync(configFile, bakeConfig(config).json);
  process.env.FERRY_CONFIG_FILE = configFile;

  const sqs = new SQSClient({ region: emulators.region, endpoint: emulators.sqsEndpoint, credentials: emulatorCredentials, useQueueUrlAsEndpoint: false });
  esm = startEventSourceMapping({
    sqs,
    queueUrl: backend.resources.queueUrl,
    queueArn: await queueArnOf(sqs, backend.resources.queueUrl),
    batchSize: 10,
    timeoutMs: 900_000,
    handler: async (event, context) => {
      // A function that dies before answering (out of memory, a crash): nothing is acked,
      // and SQS's redrive policy has to catch the message. Visibility 0 stands in for
      // waiting out the visibility timeout.
      const crashing = event.Records.filter((r) => crashKeys.some((k) => r.body.includes(k)));
      if (crashing.length > 0) {
        await Promise.all(crashing.map((r) => backend.queue.retryLater(r.receiptHandle, 0)));
        throw new Error('Runtime exited with error: signal: killed');
      }
      return worker.handler(event, context);
    },
  });
}, 180_000);

afterAll(async () => {
  await esm?.stop();
  await functionUrl?.stop();
  await stopRegistries([src, dst, ecrlike]);
  await backend?.close();
  await secrets?.stop();
  await emulators?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  process.env = savedEnv;
}, 60_000);

describe('AWS handlers end to end (Distribution -> Function URL -> webhook -> SQS -> worker -> DynamoDB)', () => {
  it('a push is replicated digest-identical, its job recorded as succeeded', async () => {
    const image = await pushRandomImage(`${src.host}/team/app:v1`);
    const source = await inspectRaw(`${src.host}/team/app:v1`);
    await arrives(`${dst.host}/team/app:v1`, source);
    expect(source.equals(image.bytes)).toBe(true);

    const accepted = functionUrl.calls.filter((c) => c.result.statusCode === 202);
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted[0]!.result.headers['content-type']).toBe('application/json');
    expect(JSON.parse(accepted[0]!.result.body)).toMatchObject({ accepted: 1, jobs: [{ policy: 'mirror', destination: { registry: 'dst', repository: 'team/app' } }] });

    const job = await eventually('the job record to say succeeded', async () => (await jobsFor('team/app')).find((j) => j.status === 'succeeded'));
    expect(job).toMatchObject({ policy: 'mirror', source: { registry: 'src', repository: 'team/app', reference: 'v1' }, attempts: 1, outcome: { action: 'copied' } });
    // The record can say succeeded a moment before the invocation returns its (empty) failure list.
    const invocation = await eventually('the worker invocation to return', async () => esm.invocations.find((i) => i.response !== undefined));
    expect(invocation.response!.batchItemFailures).toEqual([]);
  });

  it('the webhook authenticates Function URL requests; base64 bodies decode; a redelivery makes no second job', async () => {
    const delivered = functionUrl.calls.find((c) => c.result.statusCode === 202)!.event;
    const body = delivered.isBase64Encoded ? Buffer.from(delivered.body!, 'base64').toString('utf8') : delivered.body!;

    const noAuth = (await webhook.handler(urlEvent('/webhooks/src', body, { 'content-type': 'application/json' }))) as FunctionUrlResult;
    expect(noAuth.statusCode).toBe(401);
    expect(JSON.parse(noAuth.body)).toHaveProperty('error');

    const again = (await webhook.handler(urlEvent('/webhooks/src', body, { 'content-type': 'application/json', authorization: `Bearer ${HOOK_SECRET}` }, true))) as FunctionUrlResult;
    expect(again.statusCode).toBe(202);
    const answer = JSON.parse(again.body) as { jobs: Array<{ reason: string }> };
    expect(answer.jobs[0]!.reason).toMatch(/duplicate delivery/);
    expect((await jobsFor('team/app')).filter((j) => j.source.reference === 'v1')).toHaveLength(1);

    const unknown = (await webhook.handler(urlEvent('/webhooks/nope', body, { authorization: `Bearer ${HOOK_SECRET}` }))) as FunctionUrlResult;
    expect(unknown.statusCode).toBe(404);

    // Secrets were fetched once per container, not per invocation.
    expect(secrets.requests.filter((arn) => arn === HOOK_ARN)).toHaveLength(1);
  });

  it('an ECR Image Action event from EventBridge is routed to the ECR registry (IAM-trusted, no webhook secret) and replicated', async () => {
    const image = await pushRandomImage(`${ecrlike.host}/shop/api:v1`);
    const response = await webhook.handler({
      version: '0',
      id: randomUUID(),
      'detail-type': 'ECR Image Action',
      source: 'aws.ecr',
      account: '111122223333',
      region: 'us-east-1',
      time: new Date().toISOString(),
      resources: [],
      detail: { result: 'SUCCESS', 'repository-name': 'shop/api', 'image-digest': image.digest, 'action-type': 'PUSH', 'image-tag': 'v1' },
    });
    expect(response).toMatchObject({ status: 202, body: { accepted: 1 } });
    await arrives(`${dst.host}/from-ecr/shop/api:v1`, image.bytes);

    // The same registry over the public Function URL still needs its webhook secret.
    const viaUrl = (await webhook.handler(urlEvent('/webhooks/ecrlike', '{}', { 'content-type': 'application/json' }))) as FunctionUrlResult;
    expect(viaUrl.statusCode).toBe(401);
  });

  it('a dead destination drives the job to the DLQ; the admin handler replays it once the destination is back', async () => {
    process.kill(dst.pid!, 'SIGKILL');
    const image = await pushRandomImage(`${src.host}/team/app:v2`);

    const dead = await eventually('the v2 job to be dead', async () => (await jobsFor('team/app')).find((j) => j.source.reference === 'v2' && j.status === 'dead'), 120_000);
    expect(dead.attempts).toBe(MAX_ATTEMPTS);
    expect(dead.lastError?.transient).toBe(true);

    // Attempts before the last were reported to the event source as batch item failures.
    const failures = esm.invocations.flatMap((i) => i.response?.batchItemFailures ?? []);
    expect(failures.length).toBeGreaterThanOrEqual(MAX_ATTEMPTS - 1);

    const listing = await admin.handler({ action: 'dlq' });
    expect('deadLetters' in listing).toBe(true);
    const letters = (listing as { deadLetters: Array<{ jobId: string; reason?: string; job?: Job }> }).deadLetters;
    const letter = letters.find((l) => l.jobId === dead.id);
    expect(letter?.job?.status).toBe('dead');
    expect(letter?.reason).toMatch(/attempts exhausted/);

    await dst.restart();
    const replay = await admin.handler({ action: 'replay', ids: [dead.id], by: 'e2e' });
    expect(replay).toEqual({ replayed: [dead.id] });

    await arrives(`${dst.host}/team/app:v2`, image.bytes);
    const after = await eventually('the replayed job to succeed', async () => {
      const job = await admin.handler({ action: 'job', id: dead.id });
      return 'job' in job && (job as { job: Job }).job.status === 'succeeded' ? (job as { job: Job }).job : undefined;
    });
    expect(after.replays).toEqual([expect.objectContaining({ by: 'e2e' })]);
    const remaining = await admin.handler({ action: 'dlq' });
    expect((remaining as { deadLetters: Array<{ jobId: string }> }).deadLetters.map((l) => l.jobId)).not.toContain(dead.id);
    // The worker read the destination's credentials from Secrets Manager once.
    expect(secrets.requests.filter((arn) => arn === DST_CREDS_ARN).length).toBeGreaterThanOrEqual(1);
  });

  it('a job whose invocations keep crashing reaches the DLQ through the redrive policy and is replayed by repository', async () => {
    crashKeys.push('|team/crash|');
    const image = await pushRandomImage(`${src.host}/team/crash:v1`);
    const letter = await eventually('the redrive policy to move the message to the DLQ', async () => {
      const listing = await admin.handler({ action: 'dlq' });
      return (listing as { deadLetters: Array<{ jobId: string; reason?: string; job?: Job }> }).deadLetters.find((l) => l.job?.source.repository === 'team/crash');
    }, 60_000);
    expect(letter.reason).toMatch(/receive count exceeded/);
    expect(esm.invocations.filter((i) => i.error).length).toBeGreaterThanOrEqual(MAX_ATTEMPTS);

    crashKeys.length = 0;
    const replay = await admin.handler({ action: 'replay', repository: 'team/crash' });
    expect(replay).toEqual({ replayed: [letter.jobId] });
    await arrives(`${dst.host}/team/crash:v1`, image.bytes);
  });

  it('the scheduled reconcile handler repairs drift the webhooks never reported; admin sync reports a policy in sync', async () => {
    // The ECR-like registry sends no notifications: only reconcile can find this image.
    const image = await pushRandomImage(`${ecrlike.host}/shop/web:v1`);
    const result = await reconcile.handler({ policy: 'from-ecr' }, lambdaContext('ferry-reconcile', () => 900_000));
    expect(result.policies).toEqual([expect.objectContaining({ policy: 'from-ecr', enqueued: 1, errorCount: 0 })]);
    await arrives(`${dst.host}/from-ecr/shop/web:v1`, image.bytes);

    const synced = await eventually('admin sync to find the policy in sync', async () => {
      const r = await admin.handler({ action: 'sync', policy: 'from-ecr' });
      const summary = 'policies' in r ? r.policies[0] : undefined;
      return summary && 'copy' in summary && summary.copy === 0 && summary.enqueued === 0 ? summary : undefined;
    });
    expect(synced).toMatchObject({ policy: 'from-ecr', inSync: 2, errorCount: 0 });
    await expect(reconcile.handler({ policy: 'gone' }, lambdaContext('ferry-reconcile', () => 900_000))).rejects.toThrow(/no policy named "gone"/);
  });

  it('the admin handler answers bad requests with a reason instead of failing the invoke', async () => {
    expect(await admin.handler({ action: 'nope' })).toMatchObject({ error: 'bad request' });
    expect(await admin.handler({ action: 'replay' })).toMatchObject({ error: 'bad request', detail: expect.stringMatching(/exactly one/) });
    expect(await admin.handler({ action: 'job', id: 'no-such-job' })).toMatchObject({ error: 'not found' });
  });
});
