// `npm start` without a ferry.yaml: the demo starts two registries and ferry, prints the
// commands to try, and those commands really replicate an image. Ctrl-C stops it all.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { skopeo } from '../testbed/images.js';
import { REPO_ROOT } from './ferry-process.js';
import { eventually } from './scenario.js';

/** Pids of docker-registry processes whose command line mentions `dir`. */
function registryProcesses(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('docker-registry') && argv.some((a) => a.startsWith(dir))) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start (demo mode)', () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    // On a failed run: Ctrl-C first (the demo stops its registries), then force.
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 10_000);
      await once(child, 'exit');
      clearTimeout(timer);
    }
    if (dir) {
      for (const pid of registryProcesses(dir)) process.kill(pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints a push and an inspect command that show the image replicated, and stops everything on Ctrl-C', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-demo-'));
    child = spawn(process.execPath, [join(REPO_ROOT, 'scripts', 'start.mjs')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));

    await eventually('the demo instructions', async () => (stderr.includes('Ctrl-C stops everything') ? true : undefined), 60_000, 200);
    const push = /skopeo (copy .*)$/m.exec(stderr)?.[1];
    const inspect = /skopeo (inspect .*)$/m.exec(stderr)?.[1];
    expect(push, stderr).toBeDefined();
    expect(inspect, stderr).toBeDefined();

    // The printed commands, run as printed (relative paths resolve in the demo's cwd).
    const args = (line: string) => line.split(' ').map((a) => a.replace(/^oci:(?!\/)/, `oci:${dir}/`));
    await skopeo(args(push!));
    const pushedDigest = JSON.parse((await skopeo(['inspect', '--tls-verify=false', args(push!).at(-1)!])).stdout.toString('utf8')).Digest as string;
    const replicated = await eventually('the image at the destination', async () => {
      try {
        return JSON.parse((await skopeo(args(inspect!))).stdout.toString('utf8')) as { Digest: string };
      } catch {
        return undefined;
      }
    }, 30_000, 200);
    expect(replicated.Digest).toBe(pushedDigest);
    expect(stdout).toContain('job finished');

    const registryPids = registryProcesses(dir);
    expect(registryPids.length).toBe(2);
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(registryPids.filter(isAlive)).toEqual([]);
  });
});
