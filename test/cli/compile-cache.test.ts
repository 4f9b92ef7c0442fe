// dist/cli.js compiles the CLI bundle with a V8 code cache kept in the user's cache directory
// (infra/local/cli-boot.ts): written by a command's first run, read by the next ones, replaced
// by a run that works much longer, never taken from a directory others can write to.
import { chmod, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, type BuiltCli } from './built-cli.js';

let cli: BuiltCli;
let cacheDir: string;

beforeAll(async () => {
  cli = await buildCli('ferry-compile-cache-');
  cacheDir = join(cli.dir, '.cache', 'ferry', 'compile');
}, 240_000);

afterAll(async () => {
  await cli?.dispose();
});

const files = async (): Promise<string[]> => (await readdir(cacheDir).catch(() => [] as string[])).sort();

describe('the CLI code cache', () => {
  it('is written by the first run of a command, private to the user, and read (not rewritten) by the next', async () => {
    await rm(cacheDir, { recursive: true, force: true });
    expect((await cli.run(['--version'])).code).toBe(0);
    const first = await files();
    expect(first).toHaveLength(1);
    expect(first[0]).toMatch(new RegExp(`^[0-9a-f]{1,8}-[0-9a-f]{16}-${process.version.replace(/\./g, '\\.')}-${process.arch}-ferry-\\d+\\.bin$`));
    const info = await stat(join(cacheDir, first[0]!));
    expect(info.mode & 0o777).toBe(0o600);
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);

    // Accepted by V8: a rejected cache would be written again under this run's CPU time.
    expect((await cli.run(['--version'])).code).toBe(0);
    expect(await files()).toEqual(first);
    expect((await stat(join(cacheDir, first[0]!))).mtimeMs).toBe(info.mtimeMs);
  });

  it('a damaged cache file is refused by V8 and replaced; the command runs as usual', async () => {
    await rm(cacheDir, { recursive: true, force: true });
    expect((await cli.run(['--version'])).code).toBe(0);
    const [name] = await files();
    await writeFile(join(cacheDir, name!), Buffer.from('not a V8 code cache, just bytes someone left here'));
    const run = await cli.run(['--version']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const [replaced] = await files();
    expect((await stat(join(cacheDir, replaced!))).size).toBeGreaterThan(1000);
  });

  it('keeps one cache per command', async () => {
    expect((await cli.run(['policy', '--help'])).code).toBe(0);
    const names = await files();
    expect(names.some((n) => /-ferry-\d+\.bin$/.test(n))).toBe(true);
    expect(names.some((n) => /-policy-\d+\.bin$/.test(n))).toBe(true);
  });

  it('is not used from a directory that others can write to, nor when FERRY_COMPILE_CACHE=0', async () => {
    await rm(cacheDir, { recursive: true, force: true });
    await mkdir(cacheDir, { recursive: true });
    await chmod(cacheDir, 0o777);
    expect((await cli.run(['--version'])).code).toBe(0);
    expect(await files()).toEqual([]);

    await chmod(cacheDir, 0o700);
    expect((await cli.run(['--version'], { ...process.env, FERRY_COMPILE_CACHE: '0' })).code).toBe(0);
    expect(await files()).toEqual([]);
    expect((await cli.run(['--version'])).code).toBe(0);
    expect(await files()).toHaveLength(1);
  });
});
