// A real forward HTTP proxy for tests: Debian's tinyproxy on a free loopback port, with its
// own config and log file. It binds its outgoing connections to `bind` (default 127.0.0.2),
// so a registry's access log tells proxied requests (from 127.0.0.2) from direct ones.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../infra/local/demo/distribution.js';

export interface ForwardProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The address the proxy connects to upstream servers from. */
  bind: string;
  logFile: string;
  /** What the proxy was asked for, in order: `GET http://host/path`, `CONNECT host:port`. */
  requests(): Promise<string[]>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startForwardProxy(opts: { bind?: string } = {}): Promise<ForwardProxy> {
  hookExit();
  const dir = await mkdtemp(join(tmpdir(), 'ferry-tinyproxy-'));
  const logFile = join(dir, 'tinyproxy.log');
  const bind = opts.bind ?? '127.0.0.2';
  const port = await freePort();
  const config = join(dir, 'tinyproxy.conf');
  // No ConnectPort line: CONNECT is allowed to any port (the registries' are random).
  await writeFile(config, [
    `Port ${port}`, 'Listen 127.0.0.1', `Bind ${bind}`, 'Timeout 60', `LogFile "${logFile}"`, 'LogLevel Connect',
    'MaxClients 200', 'Allow 127.0.0.1', 'DisableViaHeader Yes', '',
  ].join('\n'));
  const child = spawn('tinyproxy', ['-d', '-c', config], { stdio: 'ignore' });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20))]);
    if (failed) throw new Error(`cannot start tinyproxy: ${failed.message} (install the Debian package tinyproxy)`);
    if (child.exitCode !== null) throw new Error(`tinyproxy exited during start (code ${child.exitCode}): ${await readFile(logFile, 'utf8').catch(() => '')}`);
    if (await listening(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('tinyproxy did not listen within 10 s');
    }
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    bind,
    logFile,
    async requests() {
      const text = await readFile(logFile, 'utf8').catch(() => '');
      return [...text.matchAll(/Request \(file descriptor \d+\): (\S+) (\S+) HTTP/g)].map((m) => `${m[1]} ${m[2]}`);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
