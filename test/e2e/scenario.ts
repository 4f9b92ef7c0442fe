// One end-to-end setup: a source and a destination Distribution registry, the source's
// notifications sent to a real `ferry serve` (and to a capture endpoint, so tests can
// re-deliver the very requests the registry sent), a config file and data dir in a temp dir.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../infra/local/demo/distribution.js';
import { startRegistry, type DistributionOptions, type DistributionRegistry } from '../testbed/registries.js';
import { inspectRaw, SkopeoError } from '../testbed/images.js';
import { ferryCli, ferryJson, startFerryServe, type CliResult, type FerryServe } from './ferry-process.js';

export interface CapturedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface ScenarioOptions {
  policies: Array<Record<string, unknown>>;
  worker?: Record<string, unknown>;
  adminToken?: string;
  /** Top-level config keys to set or override (e.g. backend: aws with an aws section). */
  config?: Record<string, unknown>;
  /**
   * Environment for the ferry processes (serve and CLI). FERRY_DIGEST_PUSH_DELAY defaults
   * to 1s here (30 s in production): the deferred jobs of index children must not keep
   * `settled()` waiting.
   */
  env?: NodeJS.ProcessEnv;
  /** More registries for the config (e.g. a hostile test server), beside src and dst. */
  registries?: Record<string, Record<string, unknown>>;
  /** Extra options for the source registry (e.g. blobDescriptorCache). */
  sourceRegistry?: Pick<DistributionOptions, 'blobDescriptorCache'>;
}

/** The shortened deferral of digest-only single-platform pushes every scenario runs with unless its env says otherwise. */
export const SCENARIO_DIGEST_PUSH_DELAY = '1s';

export interface Scenario {
  dir: string;
  configPath: string;
  src: DistributionRegistry;
  dst: DistributionRegistry;
  ferry: FerryServe;
  adminToken: string;
  webhookSecret: string;
  /** Requests the source registry's notifications delivered (to the capture endpoint). */
  captured: CapturedRequest[];
  /** `ferry <args> --config <this scenario>`. */
  cli(args: string[]): Promise<CliResult>;
  cliJson<T>(args: string[]): Promise<T>;
  /** GET/POST the admin API with the right token. */
  api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

function startCapture(): Promise<{ server: Server; url: string; captured: CapturedRequest[] }> {
  const captured: CapturedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      captured.push({ path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/capture`, captured });
    });
  });
}

export async function startScenario(options: ScenarioOptions): Promise<Scenario> {
  const opts = { ...options, env: { FERRY_DIGEST_PUSH_DELAY: SCENARIO_DIGEST_PUSH_DELAY, ...options.env } };
  const dir = await mkdtemp(join(tmpdir(), 'ferry-e2e-'));
  const ferryPort = await freePort();
  const webhookSecret = randomBytes(12).toString('hex');
  const adminToken = opts.adminToken ?? randomBytes(12).toString('hex');
  const capture = await startCapture();
  const started: DistributionRegistry[] = [];
  let ferry: FerryServe | undefined;
  const cleanup = async () => {
    await ferry?.stop().catch(() => {});
    await Promise.all(started.map((r) => r.stop().catch(() => {})));
    await new Promise<void>((r) => capture.server.close(() => r()));
    capture.server.closeAllConnections();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const auth = { Authorization: [`Bearer ${webhookSecret}`] };
    const src = await startRegistry({
      name: 'src',
      logLevel: 'warn',
      ...opts.sourceRegistry,
      notifications: [
        { name: 'ferry', url: `http://127.0.0.1:${ferryPort}/webhooks/src`, headers: auth, ignoredActions: ['pull'], backoff: '500ms' },
        { name: 'capture', url: capture.url, headers: auth, ignoredActions: ['pull'], backoff: '500ms' },
      ],
    });
    started.push(src);
    const dst = await startRegistry({ name: 'dst', logLevel: 'warn' });
    started.push(dst);
    const config = {
      backend: 'embedded',
      dataDir: join(dir, 'data'),
      registries: {
        src: { url: src.url, insecure: true, kind: 'distribution', webhook: { secret: webhookSecret } },
        dst: { url: dst.url, insecure: true },
        ...opts.registries,
      },
      policies: opts.policies,
      worker: { concurrency: 3, retryDelay: '500ms', maxAttempts: 3, ...opts.worker },
      admin: { token: adminToken },
      ...opts.config,
    };
    const configPath = join(dir, 'ferry.yaml');
    await writeFile(configPath, stringify(config));
    ferry = await startFerryServe({ configPath, port: ferryPort, logFile: join(dir, 'ferry.log'), env: opts.env });
    const serve = ferry;
    return {
      dir,
      configPath,
      src,
      dst,
      ferry: serve,
      adminToken,
      webhookSecret,
      captured: capture.captured,
      cli: (args) => ferryCli([...args, '--config', configPath], { env: opts.env }),
      cliJson: <T>(args: string[]) => ferryJson<T>([...args, '--config', configPath], opts.env),
      async api<T>(method: string, path: string, body?: unknown) {
        const res = await fetch(`${serve.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, body: (await res.json()) as T };
      },
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

/** The manifest bytes at `ref`, or undefined when the registry does not have it. */
export async function rawOrUndefined(ref: string): Promise<Buffer | undefined> {
  try {
    return await inspectRaw(ref);
  } catch (err) {
    if (err instanceof SkopeoError && /manifest unknown|not found|404/i.test(err.stderr)) return undefined;
    throw err;
  }
}

/** Waits until the destination serves exactly `expected` at `ref`. */
export async function arrives(ref: string, expected: Buffer, timeoutMs = 30_000): Promise<void> {
  await eventually(`${ref} to match the source`, async () => {
    const got = await rawOrUndefined(ref);
    return got?.equals(expected) ? true : undefined;
  }, timeoutMs, 150);
}

/** Waits until `ref` is gone at its registry. */
export async function disappears(ref: string, timeoutMs = 30_000): Promise<void> {
  await eventually(`${ref} to disappear`, async () => ((await rawOrUndefined(ref)) === undefined ? true : undefined), timeoutMs, 150);
}

/** Waits until the job store has no queued/running/failed jobs (every job reached an end). */
export async function settled(s: Scenario, timeoutMs = 30_000): Promise<void> {
  await eventually('all jobs to finish', async () => {
    for (const status of ['queued', 'running', 'failed']) {
      const r = await s.api<{ jobs: unknown[] }>('GET', `/api/jobs?status=${status}&limit=5`);
      if (r.status !== 200 || r.body.jobs.length > 0) return undefined;
    }
    return true;
  }, timeoutMs, 200);
}
