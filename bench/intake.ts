// Webhook intake throughput of a real `ferry serve` (embedded SQLite backend): wrk posts
// Distribution push events, one per request, each for a distinct tag (so every accepted
// request makes one new job), over 1, 16 and 64 connections. Reports requests/s, latency
// percentiles, and checks that the jobs in the database equal the 2xx answers.
//   npx tsx bench/intake.ts [--seconds 10] [--connections 1,16,64]   (FERRY_NODE_ARGS: extra node flags for ferry serve)
// Needs wrk (Debian: apt-get install wrk). The process logs at its default level (info:
// one line per accepted webhook) to a file. Its single worker is pointed at a registry
// address that never answers (TEST-NET-1), so it holds one job for the whole run and the
// figures are the intake's, not the copy engine's.
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { freePort } from '../infra/local/demo/distribution.js';
import { builtCli } from '../test/e2e/ferry-process.js';

const run = promisify(execFile);
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const SECONDS = Number(arg('seconds', '10'));
const CONNECTIONS = arg('connections', '1,16,64').split(',').map(Number);
const SECRET = 'bench-intake-secret';

// One Lua state per wrk thread: each numbers its own requests; `prefix` keeps runs apart.
const WRK_SCRIPT = `
local threads = {}
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  prefix = args[1]
  n = 0
end
function request()
  n = n + 1
  local tag = prefix .. "-" .. tid .. "-" .. n
  local body = '{"events":[{"id":"' .. tag .. '","timestamp":"2026-12-02T00:00:00Z","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":100,"digest":"sha256:${'e'.repeat(64)}","repository":"bench/app","url":"http://src/v2/bench/app/manifests/' .. tag .. '","tag":"' .. tag .. '"},"request":{"method":"PUT","useragent":"wrk"}}]}'
  return wrk.format("POST", "/webhooks/src", { ["Authorization"] = "Bearer ${SECRET}", ["Content-Type"] = "application/json" }, body)
end
function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

interface WrkResult { requests: number; non2xx: number; connect: number; read: number; write: number; timeout: number; us: number; p50: number; p90: number; p99: number; max: number }

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-intake-'));
  const port = await freePort();
  const dataDir = join(dir, 'data');
  const config = {
    dataDir,
    registries: {
      src: { url: 'http://192.0.2.1:5000', insecure: true, webhook: { secret: SECRET } },
      dst: { url: 'http://192.0.2.1:5001', insecure: true },
    },
    policies: [{ name: 'bench', source: 'src', destinations: [{ registry: 'dst' }] }],
    worker: { concurrency: 1, retryDelay: '60s' },
  };
  const configPath = join(dir, 'ferry.yaml');
  await writeFile(configPath, stringify(config));
  await writeFile(join(dir, 'post.lua'), WRK_SCRIPT);
  const log = openSync(join(dir, 'ferry.log'), 'a');
  const cli = await builtCli();
  // FERRY_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR": profile the server (written when it stops).
  const nodeArgs = (process.env.FERRY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const ferry = spawn(process.execPath, [...nodeArgs, cli, 'serve', '--config', configPath, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', log, log] });
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch { /* starting */ }
      if (i > 300) throw new Error('ferry serve did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const db = new Database(join(dataDir, 'ferry.db'), { readonly: true });
    const jobCount = () => (db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n;
    /** 2xx answers ferry sent, from its own /metrics (wrk does not count answers that arrive after its deadline). */
    const answered2xx = async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      let n = 0;
      for (const m of text.matchAll(/^ferry_webhook_requests_total\{[^}]*status="2\d\d"[^}]*\} (\d+)/gm)) n += Number(m[1]);
      return n;
    };
    console.log(`ferry serve intake, ${SECONDS} s per run, load average before: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log('conns  req/s    p50 ms  p90 ms  p99 ms  max ms  2xx(wrk)  non-2xx  sock-err  2xx(ferry)  jobs-made  jobs=2xx');
    let runNo = 0;
    for (const connections of [1, ...CONNECTIONS]) {
      const warmup = runNo === 0;
      const before = jobCount();
      const before2xx = await answered2xx();
      const threads = Math.min(2, connections);
      const seconds = warmup ? 2 : SECONDS;
      const { stdout } = await run('wrk', ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s', '-s', join(dir, 'post.lua'), url, '--', `r${runNo++}`], { maxBuffer: 1 << 20 });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
      const r = JSON.parse(line.slice(7)) as WrkResult;
      // Jobs are durable before the answer: once wrk is done, every 2xx's job is there.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const made = jobCount() - before;
      const served = (await answered2xx()) - before2xx;
      const ok = r.requests - r.non2xx - r.read - r.write - r.timeout;
      if (warmup) continue;
      const ms = (us: number) => (us / 1000).toFixed(2).padStart(6);
      console.log(`${String(connections).padEnd(6)} ${(r.requests / (r.us / 1e6)).toFixed(0).padEnd(8)} ${ms(r.p50)}  ${ms(r.p90)}  ${ms(r.p99)}  ${ms(r.max)}  ${String(ok).padEnd(9)} ${String(r.non2xx).padEnd(8)} ${String(r.connect + r.read + r.write + r.timeout).padEnd(9)} ${String(served).padEnd(11)} ${String(made).padEnd(10)} ${made === served ? 'yes' : 'NO'}`);
    }
    db.close();
    // The ceiling on this machine right now: node:http reading each body and answering 202.
    const bare = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const body = '{"accepted":1,"ignored":0,"jobs":[]}';
        res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      });
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    const barePort = (bare.address() as AddressInfo).port;
    const { stdout } = await run('wrk', ['-t', '2', '-c', '16', '-d', `${SECONDS}s`, '-s', join(dir, 'post.lua'), `http://127.0.0.1:${barePort}`, '--', 'bare'], { maxBuffer: 1 << 20 });
    bare.close();
    const r = JSON.parse(stdout.split('\n').find((l) => l.startsWith('RESULT '))!.slice(7)) as WrkResult;
    console.log(`reference: bare node:http (reads the body, answers 202), 16 connections: ${(r.requests / (r.us / 1e6)).toFixed(0)} req/s, p99 ${(r.p99 / 1000).toFixed(2)} ms`);
    console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  } finally {
    ferry.kill('SIGTERM');
    await new Promise((r) => ferry.once('exit', r));
    closeSync(log);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
