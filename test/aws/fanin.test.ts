// The AWS path under fan-in, locally: two worker runtimes in separate processes (the real
// worker handler behind an SQS event source mapping each, see worker-process.ts) against
// fauxqs + dynalite, replicating 20 repositories that share a base to a real Distribution
// registry behind a counting proxy. The blob index in DynamoDB makes each blob cross once
// (the destination's access log counts completed uploads); the shared rate state holds the
// destination's ceiling for both workers together (the proxy timestamps every request).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bakeConfig } from '../../functions/lib/baked-config.js';
import { openAwsBackend, type AwsBackend } from '../../shared/adapters/aws/index.js';
import { parseConfigText } from '../../shared/config/load.js';
import { enqueue } from '../../shared/jobs/enqueue.js';
import { isTerminal, type Job } from '../../shared/jobs/model.js';
import { emulatorCredentials, startAwsEmulators, type AwsEmulators } from '../aws-emulators/index.js';
import { blobTraffic } from '../testbed/access-log.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { buildImage, pushImage, withBaseLayers, type TestImage } from '../testbed/images.js';
import { startRegistry, stopRegistries, type DistributionRegistry } from '../testbed/registries.js';

const REPOS = 20;
const CEILING = 25;

let emu: AwsEmulators;
let backend: AwsBackend;
let src: DistributionRegistry;
let dst: DistributionRegistry;
let proxy: FaultProxy;
let workDir: string;
const workers: ChildProcess[] = [];
const images: TestImage[] = [];

function startWorker(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'worker-process.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  workers.push(child);
  let output = '';
  child.stderr!.on('data', (c: Buffer) => { output += c.toString(); });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('worker ready')) resolve(child); });
    child.once('exit', (code) => reject(new Error(`worker process exited (${code}) before it was ready: ${output.slice(-2000)}`)));
  });
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'ferry-aws-fanin-'));
  emu = await startAwsEmulators();
  backend = await openAwsBackend(
    { region: emu.region, table: `ferry-fanin-${randomUUID().slice(0, 8)}`, queueUrl: `${emu.sqsEndpoint}/000000000000/fanin-${randomUUID().slice(0, 8)}`, createMissing: true },
    { endpoints: { sqs: emu.sqsEndpoint, dynamodb: emu.dynamoEndpoint }, credentials: emulatorCredentials },
  );
  [src, dst] = await Promise.all([startRegistry({ name: 'fanin-src', logLevel: 'error' }), startRegistry({ name: 'fanin-dst' })]);
  proxy = await startFaultProxy(dst.url);

  const base = await buildImage({ layerSizes: [400_000, 300_000, 200_000], label: 'base' });
  for (let i = 0; i < REPOS; i++) {
    const image = await withBaseLayers(base, await buildImage({ layerSizes: [60_000 + i], label: `app${i}` }));
    images.push(image);
    await pushImage(image, `${src.host}/team/app${String(i + 1).padStart(2, '0')}:v1`);
  }

  const config = parseConfigText(stringify({
    backend: 'aws',
    aws: { region: emu.region, table: backend.resources.table, queueUrl: backend.resources.queueUrl, deadLetterQueueUrl: backend.resources.deadLetterQueueUrl },
    registries: {
      src: { url: src.url, insecure: true },
      dst: { url: proxy.url, insecure: true, limits: { requestsPerSecond: CEILING } },
    },
    policies: [{ name: 'fanin', source: 'src', repositories: ['team/**'], destinations: [{ registry: 'dst' }] }],
    worker: { concurrency: 2, retryDelay: '500ms', visibilityTimeout: '30s' },
  }), 'ferry.yaml', {});
  const configFile = join(workDir, 'config.json');
  writeFileSync(configFile, bakeConfig(config).json);
  const env = {
    ...process.env, ...emu.env,
    FERRY_QUEUE_URL: backend.resources.queueUrl,
    FERRY_DLQ_URL: backend.resources.deadLetterQueueUrl,
    FERRY_TABLE: backend.resources.table,
    FERRY_CONFIG_FILE: configFile,
    FERRY_BATCH_CONCURRENCY: '2',
    FERRY_LOG_LEVEL: 'warn',
  };
  await Promise.all([startWorker(env), startWorker(env)]);
}, 180_000);

afterAll(async () => {
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(undefined) : w.once('exit', r)))));
  await proxy?.stop();
  await stopRegistries([src, dst]);
  await backend?.close();
  await emu?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

describe('two worker runtimes on one DynamoDB table', () => {
  it('replicate 20 images sharing a base with each blob uploaded once, at most the ceiling in requests per second', async () => {
    const trigger = { kind: 'reconcile' as const, at: new Date().toISOString() };
    const enqueued = await enqueue({ queue: backend.queue, store: backend.store }, images.map((_, i) => ({
      policy: 'fanin',
      source: { registry: 'src', repository: `team/app${String(i + 1).padStart(2, '0')}`, reference: 'v1' },
      destination: { registry: 'dst', repository: `team/app${String(i + 1).padStart(2, '0')}` },
    })), trigger);
    const ids = enqueued.map((e) => e.job.id);

    const deadline = Date.now() + 150_000;
    let jobs: Job[] = [];
    for (;;) {
      jobs = (await Promise.all(ids.map((id) => backend.store.get(id)))).filter((j): j is Job => j !== undefined);
      if (jobs.length === ids.length && jobs.every((j) => isTerminal(j.status))) break;
      if (Date.now() > deadline) throw new Error(`jobs not finished: ${jobs.filter((j) => !isTerminal(j.status)).map((j) => `${j.source.repository} ${j.status}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(jobs.map((j) => j.status)).toEqual(ids.map(() => 'succeeded'));

    // Every blob once: the 3 base layers, 20 own layers, 20 configs.
    const distinct = new Set(images.flatMap((im) => [...im.layers, ...im.configs].map((d) => d.digest)));
    expect(distinct.size).toBe(3 + 2 * REPOS);
    const traffic = await blobTraffic(dst.logFile);
    expect([...traffic.uploads.keys()].sort()).toEqual([...distinct].sort());
    expect([...traffic.uploads.values()].every((n) => n === 1)).toBe(true);
    expect(traffic.mounts).toBe(3 * (REPOS - 1));

    // The ceiling, for both workers together: requests the proxy saw in any one second.
    const times = proxy.requests.map((r) => r.at).sort((a, b) => a - b);
    let most = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i]! - times[j]! >= 1000) j++;
      most = Math.max(most, i - j + 1);
    }
    const seconds = (times.at(-1)! - times[0]!) / 1000;
    console.log(`two workers: ${times.length} requests to the destination in ${seconds.toFixed(1)} s, at most ${most} in any second (ceiling ${CEILING})`);
    expect(most).toBeLessThanOrEqual(CEILING);
    // Both workers took part (each ran some jobs); without sharing, 2 x 25 req/s would be possible.
    expect(times.length / seconds).toBeGreaterThan(CEILING * 0.4);
  }, 200_000);
});
