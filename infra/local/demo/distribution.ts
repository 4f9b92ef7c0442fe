// Launches a real CNCF Distribution registry (Debian's `docker-registry serve`) on a free
// loopback port with a generated config. Used by `npm start`'s demo and by the test bed,
// so both run against the same registry software users run.

import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile, open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { stringify } from 'yaml';

const execFileAsync = promisify(execFile);

export interface NotificationEndpoint {
  url: string;
  name?: string;
  /** Extra request headers, e.g. `{ Authorization: ['Bearer secret'] }`. */
  headers?: Record<string, string[]>;
  /** Go duration strings; small defaults keep tests fast. */
  timeout?: string;
  threshold?: number;
  backoff?: string;
  /** Distribution event actions to leave out (e.g. `['pull']`). */
  ignoredActions?: string[];
  ignoredMediaTypes?: string[];
}

export interface HtpasswdAuth {
  /** username -> password; hashed with bcrypt by `htpasswd -Bbn`. */
  users: Record<string, string>;
  realm?: string;
}

export interface TokenAuth {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file with the certificate(s) whose keys sign the tokens. */
  rootCertBundle: string;
}

export interface DistributionOptions {
  /** A label for logs and errors; defaults to `registry-PORT`. */
  name?: string;
  /** Fixed port; default: a free loopback port. */
  port?: number;
  notifications?: NotificationEndpoint[];
  htpasswd?: HtpasswdAuth;
  token?: TokenAuth;
  /** Where the registry's storage and config live; default: a new temp dir removed on stop. */
  baseDir?: string;
  /** Milliseconds to wait for `/v2/` to answer. */
  startTimeoutMs?: number;
  /** Binary to run; default `docker-registry` (Debian's name for Distribution). */
  binary?: string;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Serve HTTPS with this certificate and key (PEM file paths); default plain HTTP. */
  tls?: { certificate: string; key: string };
  /**
   * Cache blob descriptors in memory (`storage.cache.blobdescriptor: inmemory`, as Debian's
   * packaged config does): a blob GET then trusts the cache instead of the storage, so a
   * blob whose data file went missing is answered with headers and a body that breaks off.
   */
  blobDescriptorCache?: boolean;
}

export interface DistributionRegistry {
  name: string;
  /** `127.0.0.1:PORT`, as used in image references. */
  host: string;
  /** `http://127.0.0.1:PORT` (`https://` with `tls`) */
  url: string;
  port: number;
  /** Filesystem storage root. */
  dataDir: string;
  /** The temp dir holding config, storage and `registry.log`. */
  baseDir: string;
  logFile: string;
  readonly pid: number | undefined;
  stop(): Promise<void>;
  /** Stops and starts again on the same port with the same storage. */
  restart(): Promise<void>;
  /** Stops, deletes all stored repositories and blobs, and starts again empty on the same port. */
  wipe(): Promise<void>;
}

/** Every registry process this module started and has not stopped; killed on process exit. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // `exit` handlers must be synchronous: a plain SIGKILL is the only reliable thing here.
  process.on('exit', () => {
    for (const child of live) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
}

/** Kills every registry still running (SIGKILL); for emergency cleanup paths. */
export function killAllRegistries(): void {
  for (const child of live) {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  live.clear();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      const port = address.port;
      server.close(() => resolve(port));
    });
  });
}

async function htpasswdFile(users: Record<string, string>): Promise<string> {
  const lines: string[] = [];
  for (const [user, password] of Object.entries(users)) {
    // bcrypt is the only scheme Distribution accepts; -C 4 keeps hashing cheap in tests.
    const { stdout } = await execFileAsync('htpasswd', ['-Bbn', '-C', '4', user, password]);
    lines.push(stdout.trim());
  }
  return lines.join('\n') + '\n';
}

function registryConfig(port: number, dataDir: string, opts: DistributionOptions, htpasswdPath?: string): Record<string, unknown> {
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: opts.logLevel ?? 'info', accesslog: { disabled: false }, fields: { service: 'registry' } },
    storage: {
      filesystem: { rootdirectory: dataDir },
      delete: { enabled: true },
      // Purging uploads in the background would fight tests that inspect partial uploads.
      maintenance: { uploadpurging: { enabled: false } },
      ...(opts.blobDescriptorCache ? { cache: { blobdescriptor: 'inmemory' } } : {}),
    },
    http: {
      addr: `127.0.0.1:${port}`,
      // A fixed secret lets a restarted registry accept upload state issued before the restart.
      secret: `ferry-testbed-${port}`,
      headers: { 'X-Content-Type-Options': ['nosniff'] },
      ...(opts.tls ? { tls: { certificate: opts.tls.certificate, key: opts.tls.key } } : {}),
    },
  };
  if (opts.notifications && opts.notifications.length > 0) {
    config.notifications = {
      endpoints: opts.notifications.map((endpoint, i) => ({
        name: endpoint.name ?? `endpoint-${i}`,
        url: endpoint.url,
        ...(endpoint.headers ? { headers: endpoint.headers } : {}),
        timeout: endpoint.timeout ?? '2s',
        threshold: endpoint.threshold ?? 3,
        backoff: endpoint.backoff ?? '1s',
        ...(endpoint.ignoredActions || endpoint.ignoredMediaTypes
          ? { ignore: { actions: endpoint.ignoredActions ?? [], mediatypes: endpoint.ignoredMediaTypes ?? [] } }
          : {}),
      })),
    };
  }
  if (opts.htpasswd && opts.token) throw new Error('a registry takes either htpasswd or token auth, not both');
  if (opts.htpasswd && htpasswdPath) {
    config.auth = { htpasswd: { realm: opts.htpasswd.realm ?? 'ferry-testbed', path: htpasswdPath } };
  }
  if (opts.token) {
    config.auth = {
      token: {
        realm: opts.token.realm,
        service: opts.token.service,
        issuer: opts.token.issuer,
        rootcertbundle: opts.token.rootCertBundle,
      },
    };
  }
  return config;
}

/** Resolves once `GET /v2/` answers 200 or 401 (the registry is serving). */
async function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    // The probe only asks whether the registry serves; it trusts any certificate.
    const send = url.startsWith('https:') ? httpsRequest : request;
    const req = send(`${url}/v2/`, { method: 'GET', timeout: 1000, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 || res.statusCode === 401);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

async function tail(file: string, bytes = 2000): Promise<string> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - bytes);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      return buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    try {
      child.kill('SIGTERM');
    } catch {
      // already gone
    }
    if (!(await waitForExit(child, 3000))) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
      await waitForExit(child, 3000);
    }
  }
  live.delete(child);
}

export async function startDistribution(opts: DistributionOptions = {}): Promise<DistributionRegistry> {
  installExitHook();
  const ownsBaseDir = opts.baseDir === undefined;
  const baseDir = opts.baseDir ?? (await mkdtemp(join(tmpdir(), 'ferry-registry-')));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'registry.log');
  const configFile = join(baseDir, 'config.yml');
  await mkdir(dataDir, { recursive: true });

  let htpasswdPath: string | undefined;
  if (opts.htpasswd) {
    htpasswdPath = join(baseDir, 'htpasswd');
    await writeFile(htpasswdPath, await htpasswdFile(opts.htpasswd.users), { mode: 0o600 });
  }

  const startTimeoutMs = opts.startTimeoutMs ?? 15_000;
  let port = opts.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let stopped = false;

  const launch = async (): Promise<void> => {
    await writeFile(configFile, stringify(registryConfig(port, dataDir, opts, htpasswdPath)));
    const log = await open(logFile, 'a');
    try {
      const proc = spawn(opts.binary ?? 'docker-registry', ['serve', configFile], {
        stdio: ['ignore', log.fd, log.fd],
        env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
      });
      child = proc;
      live.add(proc);
      proc.once('exit', () => live.delete(proc));
      const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
      const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
      const deadline = Date.now() + startTimeoutMs;
      for (;;) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`registry ${opts.name ?? port} exited during start (code ${proc.exitCode}); log:\n${await tail(logFile)}`);
        }
        const failed = await Promise.race([spawnError, delay(0).then(() => undefined)]);
        if (failed) throw new Error(`cannot start ${opts.binary ?? 'docker-registry'}: ${failed.message} (install the Debian package docker-registry)`);
        if (await probe(url)) return;
        if (Date.now() > deadline) {
          await terminate(proc);
          throw new Error(`registry ${opts.name ?? port} did not answer /v2/ within ${startTimeoutMs} ms; log:\n${await tail(logFile)}`);
        }
        await delay(50);
      }
    } finally {
      await log.close();
    }
  };

  // A port picked as free can be taken before the registry binds it; try a few others.
  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      if (child) await terminate(child);
      if (opts.port !== undefined || attempt >= 2) {
        if (ownsBaseDir) await rm(baseDir, { recursive: true, force: true });
        throw error;
      }
      port = await freePort();
    }
  }

  const name = opts.name ?? `registry-${port}`;
  return {
    name,
    host: `127.0.0.1:${port}`,
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    dataDir,
    baseDir,
    logFile,
    get pid() {
      return child?.pid;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child) await terminate(child);
      if (ownsBaseDir) await rm(baseDir, { recursive: true, force: true });
    },
    async restart() {
      if (stopped) throw new Error(`registry ${name} was stopped; it cannot restart`);
      if (child) await terminate(child);
      await launch();
    },
    async wipe() {
      if (stopped) throw new Error(`registry ${name} was stopped; it cannot be wiped`);
      if (child) await terminate(child);
      await rm(dataDir, { recursive: true, force: true });
      await mkdir(dataDir, { recursive: true });
      await launch();
    },
  };
}
