// The real product build (dist/cli.js starting the dist/ferry.cjs bundle) in a private directory, run
// as users run it: a child process whose HOME is that directory, with no Docker config.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface BuiltCli {
  /** Also the child's HOME. */
  dir: string;
  /** dist/cli.js inside dir. */
  cli: string;
  run(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Run>;
  dispose(): Promise<void>;
}

export async function buildCli(prefix: string): Promise<BuiltCli> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['scripts/build.mjs', `--outdir=${dir}/dist`], (error, _stdout, stderr) => (error ? reject(new Error(`build failed: ${stderr}`)) : resolve()));
  });
  const cli = join(dir, 'dist', 'cli.js');
  return {
    dir,
    cli,
    run: (args, env = process.env) =>
      new Promise((resolve) => {
        execFile(process.execPath, [cli, ...args], { timeout: 120_000, env: { ...env, FERRY_DEBUG: '', HOME: dir, DOCKER_CONFIG: '' } }, (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
          resolve({ code, stdout, stderr });
        });
      }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
