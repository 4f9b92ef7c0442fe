// Runs a command under GNU time so wall time and peak RSS come from the kernel's own
// accounting of the child (not from polling), the same way for ferry and skopeo.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Measurement {
  seconds: number;
  /** User + system CPU time of the command (fairer than wall time on a busy machine). */
  cpuSeconds: number;
  /** Peak resident set size (VmHWM) in bytes. */
  peakRssBytes: number;
  stdout: string;
  stderr: string;
}

export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
}

export async function measure(command: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; allowFailure?: boolean } = {}): Promise<Measurement> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-time-'));
  const timeFile = join(dir, 'time');
  try {
    const started = process.hrtime.bigint();
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, command, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: opts.env ?? process.env,
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
      child.on('error', reject);
      child.on('close', (exitCode) => {
        clearTimeout(timer);
        resolve({ code: exitCode, stdout: out, stderr: err });
      });
    });
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0 && !opts.allowFailure) throw new CommandFailed(`${command} ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    // GNU time prefixes "Command exited with non-zero status N" when the command failed.
    const [user, system, maxRssKb] = (await readFile(timeFile, 'utf8')).trim().split('\n').pop()!.split(' ');
    // GNU time's %e has 10 ms resolution; our own clock is finer and includes the same work.
    return { seconds: wall, cpuSeconds: Number(user) + Number(system), peakRssBytes: Number(maxRssKb) * 1024, stdout, stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
