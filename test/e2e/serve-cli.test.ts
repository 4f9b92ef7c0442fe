// `ferry serve` as a command: configuration and usage problems exit 2 with one line,
// a port already taken exits 1, and SIGTERM on an idle server exits 0.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/demo/distribution.js';
import { ferryCli, startFerryServe } from './ferry-process.js';

describe('ferry serve (command)', () => {
  let dir: string;
  let configPath: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-serve-cli-'));
    configPath = join(dir, 'ferry.yaml');
    await writeFile(configPath, [
      `dataDir: ${join(dir, 'data')}`,
      'registries:',
      '  src: { url: "http://127.0.0.1:9", insecure: true, webhook: { secret: s } }',
      'policies: []',
    ].join('\n'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 2 with a one-line error for a missing or invalid config', async () => {
    const missing = await ferryCli(['serve', '--config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^ferry: .*nope\.yaml/);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'registries: { src: { url: "ftp://x" } }\nworkers: 3\n');
    const invalid = await ferryCli(['serve', '--config', bad]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('bad.yaml');
    expect(invalid.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 with a one-line error for a malformed FERRY_DIGEST_PUSH_DELAY', async () => {
    for (const value of ['soon', '16m']) {
      const r = await ferryCli(['serve', '--config', configPath, '--listen', '127.0.0.1:0'], { env: { FERRY_DIGEST_PUSH_DELAY: value } });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^ferry: FERRY_DIGEST_PUSH_DELAY: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('exits 2 for a malformed --listen and 1 when the port is taken', async () => {
    const malformed = await ferryCli(['serve', '--config', configPath, '--listen', 'localhost:http']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^ferry: invalid --listen/);

    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const taken = await ferryCli(['serve', '--config', configPath, '--listen', `127.0.0.1:${port}`]);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toContain('address already in use');
    } finally {
      blocker.close();
    }
  });

  it('logs its address as JSON and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const serve = await startFerryServe({ configPath, port });
    const line = serve.output().split('\n').find((l) => l.includes('ferry listening'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ address: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` });
    expect(await serve.stop()).toBe(0);
    expect(serve.output()).toContain('ferry stopped');
  });
});
