// Runs `ferry serve` and the admin CLI as real child processes, from a bundle built from
// the current sources by the project's own build script (what `npm ci` ships as the
// `ferry` bin), and guarantees no ferry process outlives the tests.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readdirSync, rmSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
// Inside the repository so the bundle's external packages (better-sqlite3, pino) resolve;
// per process so parallel test files never overwrite each other's build.
const BUILD_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'ferry-e2e', String(process.pid));

/** Builds left by test processes that died without their exit hook (killed workers). */
function removeStaleBuilds(): void {
  const parent = dirname(BUILD_DIR);
  let entries: string[] = [];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(join(parent, entry), { recursive: true, force: true });
    }
  }
}

/** The CLI's code cache (infra/local/cli-boot.ts) lives and goes with this build. */
const CACHE_ENV = { XDG_CACHE_HOME: join(BUILD_DIR, 'cache') };

let built: Promise<string> | undefined;
/** Builds the CLI once per test process; returns the path of cli.js. */
export function builtCli(): Promise<string> {
  built ??= (async () => {
    process.once('exit', () => rmSync(BUILD_DIR, { recursive: true, force: true }));
    removeStaleBuilds();
    await promisify(execFile)(process.execPath, ['scripts/build.mjs', `--outdir=${BUILD_DIR}`], { cwd: REPO_ROOT, timeout: 120_000 });
    return join(BUILD_DIR, 'cli.js');
  })();
  return built;
}

const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of live) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
      }
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

async function nodeArgs(args: string[]): Promise<string[]> {
  return [await builtCli(), ...args];
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `ferry <args>` to completion. */
export async function ferryCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, await nodeArgs(args), { cwd: REPO_ROOT, env: { ...process.env, ...CACHE_ENV, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code: code ?? (signal ? 128 : 1), stdout, stderr };
}

/** `ferry <args> --json` parsed; throws with the CLI's stderr when it fails. */
export async function ferryJson<T>(args: string[], env?: NodeJS.ProcessEnv): Promise<T> {
  const r = await ferryCli([...args, '--json'], env ? { env } : {});
  if (r.code !== 0) throw new Error(`ferry ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface FerryServe {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Everything the process wrote so far (JSON log lines). */
  output(): string;
  /** SIGTERM and wait for the process to exit; returns its exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash, no drain. */
  kill9(): Promise<void>;
  /** Starts the same command again (same config, port and data). */
  restart(): Promise<void>;
}

async function waitHealthy(url: string, child: ChildProcess, out: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`ferry serve exited during start (code ${child.exitCode}):\n${out().slice(-3000)}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`ferry serve did not become healthy within ${timeoutMs} ms:\n${out().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startFerryServe(opts: { configPath: string; port: number; logFile?: string; env?: NodeJS.ProcessEnv }): Promise<FerryServe> {
  let child: ChildProcess;
  let buffer = '';
  let log: WriteStream | undefined = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  const url = `http://127.0.0.1:${opts.port}`;

  const launch = async () => {
    child = spawn(process.execPath, await nodeArgs(['serve', '--config', opts.configPath, '--listen', `127.0.0.1:${opts.port}`]), {
      cwd: REPO_ROOT,
      env: { ...process.env, ...CACHE_ENV, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on('data', (d: Buffer) => {
        buffer += d.toString('utf8');
        log?.write(d);
      });
    }
    await waitHealthy(url, child, () => buffer, 30_000);
  };

  const waitExit = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const [code] = (await once(child, 'exit')) as [number | null];
    return code;
  };

  await launch();
  return {
    url,
    port: opts.port,
    get pid() {
      return child.pid;
    },
    output: () => buffer,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await waitExit();
      clearTimeout(timer);
      log?.end();
      log = undefined;
      return code;
    },
    async kill9() {
      child.kill('SIGKILL');
      await waitExit();
    },
    async restart() {
      await launch();
    },
  };
}
