// The `ferry` command as installed (bin/ferry): Node does not pay for NODE_EXTRA_CA_CERTS at
// start-up, yet ferry still trusts those certificates, here against real HTTPS registries
// whose self-signed certificate only that variable names.

import { execFile, execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { digestOf, inspectRaw, pushRandomImage, type TestImage } from '../testbed/images.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
let launcher: string;
let certificate: string;

function run(command: string, args: string[], env: Record<string, string | undefined>): Promise<Run> {
  const { NODE_EXTRA_CA_CERTS: _inherited, ...base } = process.env;
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 120_000, env: { ...base, FERRY_DEBUG: '', HOME: dir, DOCKER_CONFIG: '', ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  // The product build and the launcher, laid out as in the package (bin/ next to dist/).
  dir = await mkdtemp(join(tmpdir(), 'ferry-launcher-'));
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, ['scripts/build.mjs', `--outdir=${dir}/dist`], (error, _stdout, stderr) => (error ? reject(new Error(`build failed: ${stderr}`)) : resolve()));
  });
  await mkdir(join(dir, 'bin'));
  launcher = join(dir, 'bin', 'ferry');
  await copyFile('bin/ferry', launcher);
  execFileSync('chmod', ['+x', launcher]);
  certificate = join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', certificate,
  ], { stdio: 'pipe' });
});

afterAll(async () => {
  await stopAllRegistries();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('bin/ferry', () => {
  it('leaves NODE_EXTRA_CA_CERTS unread at start-up (node itself would load it before any code runs)', async () => {
    const missing = { NODE_EXTRA_CA_CERTS: join(dir, 'no-such-bundle.pem') };
    const direct = await run(process.execPath, [join(dir, 'dist', 'cli.js'), '--version'], missing);
    expect(direct.stderr).toMatch(/Ignoring extra certs/);
    const launched = await run(launcher, ['--version'], missing);
    expect(launched).toMatchObject({ code: 0, stderr: '' });
    expect(launched.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('finds its package through links, as npm installs it (node_modules/.bin/ferry -> ../ferry/bin/ferry)', async () => {
    const bin = join(dir, 'node_modules', '.bin');
    await mkdir(bin, { recursive: true });
    await mkdir(join(dir, 'node_modules', 'ferry'), { recursive: true });
    await symlink(dir + '/bin', join(dir, 'node_modules', 'ferry', 'bin'));
    await symlink(dir + '/dist', join(dir, 'node_modules', 'ferry', 'dist'));
    await symlink('../ferry/bin/ferry', join(bin, 'ferry'));
    const linked = await run(join(bin, 'ferry'), ['--version'], {});
    expect(linked).toMatchObject({ code: 0, stderr: '' });
    expect(linked.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('is what `npx ferry` runs in a checkout (after npm ci, whose prepare step builds dist/)', async () => {
    const npx = await run('npx', ['--no-install', 'ferry', '--version'], { npm_config_update_notifier: 'false' });
    expect(npx.code).toBe(0);
    expect(npx.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  describe('against HTTPS registries with a certificate only NODE_EXTRA_CA_CERTS trusts', () => {
    let src: DistributionRegistry;
    let dst: DistributionRegistry;
    let image: TestImage;

    beforeAll(async () => {
      const tls = { certificate, key: join(dir, 'key.pem') };
      [src, dst] = (await startRegistries(2, (i) => ({ name: ['tls-src', 'tls-dst'][i]!, logLevel: 'error', tls }))) as [DistributionRegistry, DistributionRegistry];
      expect(src.url).toMatch(/^https:/);
      image = await pushRandomImage(`${src.host}/team/app:v1`);
      await image.dispose();
    });

    it('copies digest-identically when the variable names the certificate', async () => {
      const copy = await run(launcher, ['copy', '--json', `${src.host}/team/app:v1`, `${dst.host}/team/app:v1`], { NODE_EXTRA_CA_CERTS: certificate });
      expect(copy.stderr).toBe('');
      expect(copy.code).toBe(0);
      expect(JSON.parse(copy.stdout)).toMatchObject({ digest: image.digest });
      expect(digestOf(await inspectRaw(`${dst.host}/team/app:v1`))).toBe(image.digest);
    });

    it('refuses the registry without it at once: one line naming the certificate problem and the fix, exit 1', async () => {
      const started = Date.now();
      const copy = await run(launcher, ['copy', `${src.host}/team/app:v1`, `${dst.host}/team/other:v1`], {});
      expect(copy.code).toBe(1);
      expect(copy.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(copy.stderr).toMatch(/^ferry: .*TLS certificate not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT: .*NODE_EXTRA_CA_CERTS/);
      // Not retried like a network failure (three attempts with backoff took ~1.5 s).
      expect(Date.now() - started).toBeLessThan(1500);
    });
  });
});
