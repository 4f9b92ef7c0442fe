// The AWS backend (SQS + DynamoDB adapters) against fauxqs and dynalite running in this
// process: first the shared backend contract, then what is specific to SQS and DynamoDB
// (batch limits, redrive, the coalescing pointer protocol, index paging, setup).
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  openAwsBackend,
  planBatches,
  messageSize,
  SqsJobQueue,
  SQS_MAX_BATCH_BYTES,
  type AwsBackend,
  type AwsBackendOptions,
  type AwsConfig,
} from '../../shared/adapters/aws/index.js';
import { jobKey, type Job, type JobMessage } from '../../shared/jobs/model.js';
import type { JobQueue, ReceivedMessage } from '../../shared/jobs/ports.js';
import { emulatorCredentials, startAwsEmulators, type AwsEmulators } from '../aws-emulators/index.js';
import { DYNAMODB_LOCAL_CREDENTIALS, startDynamoDbLocal, type DynamoDbLocal } from '../aws-emulators/dynamodb-local.js';
import { describeBackendContract, sleep } from './backend-contract.js';

let emu: AwsEmulators;
let ddbLocal: DynamoDbLocal | undefined;

beforeAll(async () => {
  [emu, ddbLocal] = await Promise.all([startAwsEmulators(), startDynamoDbLocal({ timeoutMs: 110_000 })]);
}, 120_000);
afterAll(async () => {
  await emu?.stop();
  await ddbLocal?.stop();
});

/** Fresh queue, DLQ and table names, so every backend starts empty. */
function freshConfig(): AwsConfig {
  const id = randomUUID().slice(0, 8);
  return {
    region: emu.region,
    queueUrl: `${emu.sqsEndpoint}/000000000000/ferry-${id}`,
    deadLetterQueueUrl: `${emu.sqsEndpoint}/000000000000/ferry-${id}-dlq`,
    table: `ferry-${id}`,
    createMissing: true,
  };
}

function options(extra: Partial<AwsBackendOptions> = {}): AwsBackendOptions {
  return { endpoints: { sqs: emu.sqsEndpoint, dynamodb: emu.dynamoEndpoint }, credentials: emulatorCredentials, ...extra };
}

describeBackendContract('aws (fauxqs + dynalite)', async () => {
  const config = freshConfig();
  const backend = await openAwsBackend(config, options());
  return { ...backend, reopen: () => openAwsBackend(config, options()) };
}, { timeoutMs: 60_000 });

// The same contract against Amazon's DynamoDB Local (a Java process started with the file
// and stopped by PID after it): dynalite lacks its transaction and TTL semantics.
describeBackendContract('aws (fauxqs + DynamoDB Local)', async () => {
  const local = { ...options(), endpoints: { sqs: emu.sqsEndpoint, dynamodb: ddbLocal!.endpoint }, credentials: DYNAMODB_LOCAL_CREDENTIALS };
  const config = freshConfig();
  const backend = await openAwsBackend(config, local);
  return { ...backend, reopen: () => openAwsBackend(config, local) };
}, { timeoutMs: 120_000 });

// --- AWS-specific behaviour ----------------------------------------------------------

const opened: AwsBackend[] = [];
const clients: Array<{ destroy(): void }> = [];
afterEach(async () => {
  for (const b of opened.splice(0)) await b.close();
  for (const c of clients.splice(0)) c.destroy();
});

async function open(extra: Partial<AwsBackendOptions> = {}, config = freshConfig()): Promise<AwsBackend> {
  const b = await openAwsBackend(config, options(extra));
  opened.push(b);
  return b;
}

function rawSqs(): SQSClient {
  const c = new SQSClient({ region: emu.region, endpoint: emu.sqsEndpoint, credentials: emulatorCredentials, useQueueUrlAsEndpoint: false });
  clients.push(c);
  return c;
}

function rawDoc(): DynamoDBDocumentClient {
  const c = new DynamoDBClient({ region: emu.region, endpoint: emu.dynamoEndpoint, credentials: emulatorCredentials });
  clients.push(c);
  return DynamoDBDocumentClient.from(c, { marshallOptions: { removeUndefinedValues: true } });
}

/** An SQSClient that records the entry count and byte size of every SendMessageBatch. */
function recordingSqs(): { sqs: SQSClient; batches: Array<{ entries: number; bytes: number }> } {
  const sqs = rawSqs();
  const batches: Array<{ entries: number; bytes: number }> = [];
  sqs.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName === 'SendMessageBatchCommand') {
      const entries = (args.input as { Entries: Array<{ MessageBody: string }> }).Entries;
      batches.push({ entries: entries.length, bytes: entries.reduce((n, e) => n + Buffer.byteLength(e.MessageBody), 0) });
    }
    return next(args);
  }, { step: 'initialize' });
  return { sqs, batches };
}

async function receiveAll(queue: JobQueue, count: number, visibility = 60, deadlineMs = 15_000): Promise<ReceivedMessage[]> {
  const got: ReceivedMessage[] = [];
  const end = Date.now() + deadlineMs;
  while (got.length < count && Date.now() < end) got.push(...(await queue.receive(count - got.length, visibility, 1)));
  return got;
}

const message = (key = `p|dst|repo|${randomUUID()}`): JobMessage => ({ jobId: randomUUID(), key });

const at = '2026-03-01T00:00:00.000Z';
function job(over: Partial<Job> = {}): Job {
  const destination = over.destination ?? { registry: 'dr', repository: 'mirror/team/app' };
  return {
    id: randomUUID(),
    key: jobKey('mirror', destination, 'v1'),
    policy: 'mirror',
    source: { registry: 'src', repository: 'team/app', reference: 'v1' },
    destination,
    trigger: { kind: 'manual', at },
    status: 'queued',
    attempts: 0,
    createdAt: at,
    updatedAt: at,
    ...over,
  };
}

describe('SQS batching (pure)', () => {
  it('splits at 10 entries', () => {
    const batches = planBatches(Array.from({ length: 25 }, (_, i) => ({ body: `m${i}` })));
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(batches.flat().map((m) => m.body)).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));
  });

  it('splits at 256 KiB per batch, counting attributes, keeping order', () => {
    const big = (n: number) => ({ body: 'x'.repeat(n) });
    const batches = planBatches([big(100_000), big(100_000), big(100_000), { body: 'y', attributes: { reason: 'z'.repeat(200_000) } }]);
    expect(batches.map((b) => b.length)).toEqual([2, 1, 1]);
    for (const b of batches) expect(b.reduce((n, m) => n + messageSize(m), 0)).toBeLessThanOrEqual(SQS_MAX_BATCH_BYTES);
  });

  it('puts a message of exactly 256 KiB alone and rejects a larger one', () => {
    expect(planBatches([{ body: 'a' }, { body: 'b'.repeat(SQS_MAX_BATCH_BYTES) }]).map((b) => b.length)).toEqual([1, 1]);
    expect(() => planBatches([{ body: 'c'.repeat(SQS_MAX_BATCH_BYTES + 1) }])).toThrow(/exceeds the 262144-byte limit/);
  });
});

describe('SQS queue (aws)', () => {
  it('sends 25 messages as batches of 10, 10 and 5, and receives all 25 with one receive call', async () => {
    const b = await open();
    const { sqs, batches } = recordingSqs();
    const queue = new SqsJobQueue(sqs, { queueUrl: b.resources.queueUrl, deadLetterQueueUrl: b.resources.deadLetterQueueUrl });
    const sent = Array.from({ length: 25 }, () => message());
    await queue.send(sent);
    expect(batches.map((x) => x.entries)).toEqual([10, 10, 5]);
    // receive(25) loops over SQS's 10-per-call maximum.
    const got = await queue.receive(25, 60, 1);
    expect(got.map((r) => r.message.jobId).sort()).toEqual(sent.map((m) => m.jobId).sort());
  });

  it('splits messages near 256 KiB into batches under the limit and delivers them intact', async () => {
    const b = await open();
    const { sqs, batches } = recordingSqs();
    const queue = new SqsJobQueue(sqs, { queueUrl: b.resources.queueUrl, deadLetterQueueUrl: b.resources.deadLetterQueueUrl });
    // Keys this long never happen in practice; they make the byte limit, not the count, bind.
    const sent = [message(`k|${'a'.repeat(120_000)}`), message(`k|${'b'.repeat(120_000)}`), message(`k|${'c'.repeat(250_000)}`), message()];
    await queue.send(sent);
    // 120k + 120k fit together; 250k does not join them but leaves room for the small one.
    expect(batches.map((x) => x.entries)).toEqual([2, 2]);
    for (const x of batches) expect(x.bytes).toBeLessThanOrEqual(SQS_MAX_BATCH_BYTES);
    const got = await receiveAll(queue, 4);
    expect(got.map((r) => r.message).sort((x, y) => x.jobId.localeCompare(y.jobId))).toEqual([...sent].sort((x, y) => x.jobId.localeCompare(y.jobId)));
  });

  it('sends a delay as whole SQS DelaySeconds: fractions round up (never early), over 900 s caps at 900, none without a delay', async () => {
    const b = await open();
    const sqs = rawSqs();
    const delays: Array<Array<number | undefined>> = [];
    sqs.middlewareStack.add((next, context) => async (args) => {
      if (context.commandName === 'SendMessageBatchCommand') {
        delays.push((args.input as { Entries: Array<{ DelaySeconds?: number }> }).Entries.map((e) => e.DelaySeconds));
      }
      return next(args);
    }, { step: 'initialize' });
    const queue = new SqsJobQueue(sqs, { queueUrl: b.resources.queueUrl, deadLetterQueueUrl: b.resources.deadLetterQueueUrl });
    await queue.send([message()]);
    await queue.send([message(), message()], 0.4);
    await queue.send([message()], 30);
    await queue.send([message()], 2000);
    expect(delays).toEqual([[undefined], [1, 1], [30], [900]]);
  });

  it('rejects a message over 256 KiB before sending anything', async () => {
    const b = await open();
    await expect(b.queue.send([message(), message(`k|${'x'.repeat(300_000)}`)])).rejects.toThrow(/exceeds the 262144-byte limit/);
    expect((await b.queue.depth()).queued).toBe(0);
  });

  it('the redrive policy moves a message received maxAttempts times without an ack to the DLQ', async () => {
    const b = await open({ maxAttempts: 2 });
    const m = message();
    await b.queue.send([m]);
    for (let n = 1; n <= 2; n++) {
      const [r] = await receiveAll(b.queue, 1, 1);
      expect(r?.receiveCount).toBe(n);
      await sleep(1200); // let the visibility lapse: the worker "crashed"
    }
    expect(await b.queue.receive(10, 1, 1)).toEqual([]);
    const dead = await b.queue.listDead();
    expect(dead.map((d) => d.message)).toEqual([m]);
    expect(dead[0]!.reason).toMatch(/redrive/);
    // Redriven letters replay like any other.
    expect(await b.queue.replayDead({ jobIds: [m.jobId] })).toEqual([m.jobId]);
    const [again] = await receiveAll(b.queue, 1);
    expect(again?.message).toEqual(m);
  });

  it('a message requeued more often than the redrive policy allows receives stays out of the DLQ (a busy key waits, it does not fail)', async () => {
    const b = await open({ maxAttempts: 2 });
    const m = message();
    await b.queue.send([m]);
    for (let n = 1; n <= 4; n++) {
      const [r] = await receiveAll(b.queue, 1, 30);
      expect(r?.message).toEqual(m);
      expect(r?.receiveCount).toBe(1);
      await b.queue.requeue(r!.receipt, m, 0);
    }
    const [last] = await receiveAll(b.queue, 1, 30);
    expect(last?.message).toEqual(m);
    expect(await b.queue.listDead()).toEqual([]);
  });

  it('replays by id, then by repository, then all, sending each job exactly once', async () => {
    const b = await open();
    const ms = Array.from({ length: 12 }, () => message());
    const repoOf = (id: string) => (ms.findIndex((m) => m.jobId === id) % 3 === 0 ? 'team/a' : 'team/b');
    await b.queue.send(ms);
    for (const r of await receiveAll(b.queue, 12)) await b.queue.deadLetter(r.receipt, r.message, `failed ${r.message.jobId}`);
    expect(await b.queue.listDead()).toHaveLength(12);
    // A limited listing scans only as far as needed and releases what it looked at.
    expect(await b.queue.listDead(5)).toHaveLength(5);
    expect(await b.queue.listDead()).toHaveLength(12);

    expect(await b.queue.replayDead({ jobIds: [ms[1]!.jobId, ms[2]!.jobId] })).toEqual(expect.arrayContaining([ms[1]!.jobId, ms[2]!.jobId]));
    const byRepo = await b.queue.replayDead({ repository: 'team/a' }, async (id) => repoOf(id));
    expect(byRepo.sort()).toEqual(ms.filter((m) => repoOf(m.jobId) === 'team/a').map((m) => m.jobId).sort());
    const rest = await b.queue.replayDead({ all: true });
    expect(rest).toHaveLength(12 - 2 - byRepo.length);
    expect(await b.queue.listDead()).toEqual([]);

    const got = await receiveAll(b.queue, 12);
    expect(got.map((r) => r.message.jobId).sort()).toEqual(ms.map((m) => m.jobId).sort());
    expect(await b.queue.depth()).toEqual({ queued: 0, inFlight: 12, dead: 0 });
  });

  it('refuses a repository replay without a resolver (dead letters carry only ids)', async () => {
    const b = await open();
    await expect(b.queue.replayDead({ repository: 'team/a' })).rejects.toThrow(/resolveRepository/);
  });

  it('parks an unreadable message body in the DLQ instead of handing it to a worker', async () => {
    const b = await open();
    await rawSqs().send(new SendMessageCommand({ QueueUrl: b.resources.queueUrl, MessageBody: 'not json' }));
    const good = message();
    await b.queue.send([good]);
    const got = await receiveAll(b.queue, 2, 60, 3000);
    expect(got.map((r) => r.message)).toEqual([good]);
    expect((await b.queue.depth()).dead).toBe(1);
  });

  it('retryLater and deadLetter with a receipt from an earlier delivery do nothing', async () => {
    const b = await open();
    const m = message();
    await b.queue.send([m]);
    const [first] = await receiveAll(b.queue, 1, 1);
    await sleep(1200);
    const [second] = await receiveAll(b.queue, 1, 60);
    expect(second?.receiveCount).toBe(2);
    await b.queue.retryLater(first!.receipt, 0);
    await b.queue.deadLetter(first!.receipt, m, 'stale worker');
    // The current holder still has it: not visible, not dead.
    expect(await b.queue.depth()).toEqual({ queued: 0, inFlight: 1, dead: 0 });
    await b.queue.ack(second!.receipt);
    expect(await b.queue.depth()).toEqual({ queued: 0, inFlight: 0, dead: 0 });
  });

  it('records the reason and time on letters it dead-letters itself', async () => {
    const b = await open();
    await b.queue.send([message()]);
    const [r] = await receiveAll(b.queue, 1);
    const before = new Date().toISOString();
    await b.queue.deadLetter(r!.receipt, r!.message, 'manifest invalid (permanent)');
    const [d] = await b.queue.listDead();
    expect(d?.reason).toBe('manifest invalid (permanent)');
    expect(d!.deadAt! >= before.slice(0, 19)).toBe(true);
  });
});

describe('DynamoDB store (aws)', () => {
  it('coalesces 20 concurrent creates from two connections into exactly one job', async () => {
    const config = freshConfig();
    const one = await open({}, config);
    const two = await open({}, config);
    const key = job().key;
    const jobs = Array.from({ length: 20 }, () => job({ key }));
    const results = await Promise.all(jobs.map((j, i) => (i % 2 ? one : two).store.create(j)));
    const created = results.filter((r) => r.created);
    expect(created).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id))).toEqual(new Set([created[0]!.job.id]));
    const queued = await one.store.list({ status: 'queued' });
    expect(queued.jobs.map((j) => j.id)).toEqual([created[0]!.job.id]);
  });

  it('takes over a stale pointer whose job already left queued (a crash before the pointer was removed)', async () => {
    const config = freshConfig();
    const b = await open({}, config);
    const running = job({ status: 'running' });
    await b.store.create(running);
    await rawDoc().send(new PutCommand({ TableName: config.table, Item: { pk: `QUEUED#${running.key}`, jobId: running.id, job: running } }));
    const next = job({ key: running.key });
    expect(await b.store.create(next)).toEqual({ job: next, created: true });
    // The new pointer is live: the next duplicate coalesces onto the new job.
    const dup = await b.store.create(job({ key: running.key }));
    expect(dup).toMatchObject({ created: false, job: { id: next.id } });
  });

  it('completes a job whose creator crashed between pointer and job item, and coalesces onto it', async () => {
    const config = freshConfig();
    const b = await open({}, config);
    const orphan = job();
    await rawDoc().send(new PutCommand({ TableName: config.table, Item: { pk: `QUEUED#${orphan.key}`, jobId: orphan.id, job: orphan } }));
    const res = await b.store.create(job({ key: orphan.key }));
    expect(res).toEqual({ job: orphan, created: false });
    expect(await b.store.get(orphan.id)).toEqual(orphan);
    // The crashed creator's retry (same id) finds its job.
    expect(await b.store.create(orphan)).toEqual({ job: orphan, created: false });
  });

  it('treats a pointer without a readable job as stale', async () => {
    const config = freshConfig();
    const b = await open({}, config);
    const j = job();
    await rawDoc().send(new PutCommand({ TableName: config.table, Item: { pk: `QUEUED#${j.key}`, jobId: randomUUID() } }));
    expect(await b.store.create(j)).toEqual({ job: j, created: true });
  });

  it('a replayed job (dead -> queued) takes the key again, so new duplicates coalesce onto it', async () => {
    const b = await open();
    const j = job();
    await b.store.create(j);
    await b.store.transition(j.id, ['queued'], { status: 'running' });
    await b.store.transition(j.id, ['running'], { status: 'dead', expiresAt: 2_000_000_000 });
    const replayed = await b.store.transition(j.id, ['dead'], { status: 'queued', attempts: 0, expiresAt: undefined, replays: [{ at, by: 'admin' }] });
    expect(replayed).toMatchObject({ status: 'queued', attempts: 0, replays: [{ at, by: 'admin' }] });
    expect(await b.store.create(job({ key: j.key }))).toMatchObject({ created: false, job: { id: j.id } });
  });

  it('keeps the status index in step with transitions', async () => {
    const b = await open();
    const j = job();
    await b.store.create(j);
    await b.store.transition(j.id, ['queued'], { status: 'running' });
    expect((await b.store.list({ status: 'queued' })).jobs).toEqual([]);
    expect((await b.store.list({ status: 'running' })).jobs.map((x) => x.id)).toEqual([j.id]);
  });

  it('fills pages from sparse filtered queries and ends paging exactly', async () => {
    const b = await open();
    const jobs: Job[] = [];
    for (let i = 0; i < 60; i++) {
      const createdAt = new Date(Date.parse(at) + i * 1000).toISOString();
      jobs.push(job({ key: `k${i}`, createdAt, updatedAt: createdAt, policy: i % 10 === 0 ? 'rare' : 'mirror' }));
    }
    for (const j of jobs) await b.store.create(j);
    for (const j of jobs.filter((_, i) => i % 10 === 0)) await b.store.transition(j.id, ['queued'], { status: 'dead' });
    // 6 dead "rare" jobs spread over 60: pages of 4 are full, then the rest, then no cursor.
    const first = await b.store.list({ status: 'dead', policy: 'rare', limit: 4 });
    expect(first.jobs).toHaveLength(4);
    const second = await b.store.list({ status: 'dead', policy: 'rare', limit: 4, cursor: first.cursor! });
    expect(second.jobs).toHaveLength(2);
    expect(second.cursor).toBeUndefined();
    expect([...first.jobs, ...second.jobs].map((j) => j.id)).toEqual(jobs.filter((_, i) => i % 10 === 0).reverse().map((j) => j.id));
    // Exactly a full last page: no dangling cursor to an empty page.
    const six = await b.store.list({ policy: 'rare', limit: 6 });
    expect(six.jobs).toHaveLength(6);
    expect(six.cursor).toBeUndefined();
  });

  it('lists a job whose source and destination repository are the same once', async () => {
    const b = await open();
    const j = job({ destination: { registry: 'dr', repository: 'team/app' } });
    await b.store.create(j);
    expect((await b.store.list({ repository: 'team/app' })).jobs.map((x) => x.id)).toEqual([j.id]);
  });

  it('rejects a malformed cursor with a clear error', async () => {
    const b = await open();
    await expect(b.store.list({ cursor: 'not-a-cursor' })).rejects.toThrow(/invalid job list cursor/);
  });
});

describe('setup (aws)', () => {
  it('createMissing creates queue, DLQ (as the redrive target) and table once, and reopening finds them', async () => {
    const config = freshConfig();
    const first = await open({ maxAttempts: 7 }, config);
    const again = await open({ maxAttempts: 7 }, config);
    expect(again.resources).toEqual(first.resources);
    const attrs = await rawSqs().send(new GetQueueAttributesCommand({ QueueUrl: first.resources.queueUrl, AttributeNames: ['RedrivePolicy'] }));
    const policy = JSON.parse(attrs.Attributes!.RedrivePolicy!) as { deadLetterTargetArn: string; maxReceiveCount: number | string };
    expect(Number(policy.maxReceiveCount)).toBe(7);
    expect(policy.deadLetterTargetArn.split(':').pop()).toBe(first.resources.deadLetterQueueUrl.split('/').pop());
    const created = await first.store.create(job());
    expect(await again.store.get(created.job.id)).toEqual(created.job);
  });

  it('without createMissing, finds the DLQ through the redrive policy', async () => {
    const config = freshConfig();
    const created = await open({}, config);
    const b = await open({}, { ...config, queueUrl: created.resources.queueUrl, createMissing: false, deadLetterQueueUrl: undefined });
    expect(b.resources.deadLetterQueueUrl).toBe(created.resources.deadLetterQueueUrl);
    await b.queue.send([message()]);
    const [r] = await receiveAll(b.queue, 1);
    await b.queue.deadLetter(r!.receipt, r!.message, 'x');
    const res = await rawSqs().send(new ReceiveMessageCommand({ QueueUrl: created.resources.deadLetterQueueUrl, WaitTimeSeconds: 1 }));
    expect(res.Messages).toHaveLength(1);
  });

  it('takes endpoints and credentials from the environment (AWS_ENDPOINT_URL_SQS / _DYNAMODB), as the Lambda handlers do', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, emu.env);
    try {
      const b = await openAwsBackend(freshConfig());
      opened.push(b);
      await b.queue.send([message()]);
      expect(await receiveAll(b.queue, 1)).toHaveLength(1);
      const j = job();
      expect(await b.store.create(j)).toEqual({ job: j, created: true });
    } finally {
      for (const name of Object.keys(emu.env)) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });

  it('without createMissing, a missing queue URL is a configuration error', async () => {
    await expect(openAwsBackend({ ...freshConfig(), queueUrl: undefined, createMissing: false }, options())).rejects.toThrow(/aws\.queueUrl is not set/);
  });
});
