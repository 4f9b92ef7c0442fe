// The Lambda bundles as Lambda loads them: each handler's index.mjs, alone in a directory
// outside the repository (no node_modules to fall back on), imported as ESM. Also the
// cold-start proxies the report quotes: bundle size and module import time.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bakeConfig } from '../../functions/lib/baked-config.js';
import { BUNDLE_FILE, HANDLERS, bundleHandlers, writeFunctionAsset, type HandlerBundle } from '../../infra/aws/bundle.js';
import { parseConfigText } from '../../shared/config/load.js';

const run = promisify(execFile);
let dir: string;
let bundles: Map<string, HandlerBundle>;

const CONFIG = parseConfigText(`
registries:
  src: { url: "https://src.example.com", webhook: { allowUnauthenticated: true } }
  dst: { url: "https://dst.example.com" }
policies:
  - { name: p, source: src, destinations: [{ registry: dst }] }
`, 'bundle-test.yaml', {});

/** Runs `script` as an ES module in a fresh node with the asset directory as argv[1]. */
async function node(script: string, assetDir: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, assetDir], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 60_000,
  });
  return stdout.trim();
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-bundles-'));
  bundles = bundleHandlers();
  for (const [name, bundle] of bundles) writeFunctionAsset(join(dir, name), bundle, bakeConfig(CONFIG).json);
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Lambda bundles', () => {
  it.each(HANDLERS)('%s: self-contained ESM that exports handler; size and import time', async (name) => {
    const bundle = bundles.get(name)!;
    const out = await node(`
      const t0 = performance.now();
      const m = await import(process.argv[1] + '/${BUNDLE_FILE}');
      const ms = performance.now() - t0;
      console.log(JSON.stringify({ handler: typeof m.handler, ms: Math.round(ms) }));
    `, join(dir, name));
    const result = JSON.parse(out) as { handler: string; ms: number };
    expect(result.handler).toBe('function');
    // A guard against accidentally bundling something huge (e.g. the CDK) into a function.
    expect(bundle.code.length).toBeLessThan(4 * 1024 * 1024);
    console.log(`bundle ${name}: ${(bundle.code.length / 1024).toFixed(0)} KiB, import ${result.ms} ms`);
  });

  it('webhook: the bundled handler reads its baked config beside it and answers a Function URL request', async () => {
    const out = await node(`
      const t0 = performance.now();
      const { handler } = await import(process.argv[1] + '/${BUNDLE_FILE}');
      const res = await handler({
        version: '2.0', rawPath: '/webhooks/unknown', rawQueryString: '', headers: {}, body: '{}', isBase64Encoded: false,
        requestContext: { http: { method: 'POST', path: '/webhooks/unknown' } },
      });
      console.log(JSON.stringify({ res, ms: Math.round(performance.now() - t0) }));
    `, join(dir, 'webhook'), {
      AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', FERRY_LOG_LEVEL: 'silent',
      FERRY_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/q', FERRY_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/d', FERRY_TABLE: 't',
    });
    const { res, ms } = JSON.parse(out) as { res: { statusCode: number; headers: Record<string, string>; body: string }; ms: number };
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body)).toEqual({ error: 'unknown registry', detail: expect.stringContaining('unknown') });
    console.log(`webhook cold start (import + first invocation, no network): ${ms} ms`);
  });
});
