// `ferry copy` as users run it: the bundled CLI in a child process, real Distribution
// registries, skopeo as the judge of what arrived.

import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, type BuiltCli, type Run } from './built-cli.js';
import { startRegistries, startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { digestOf, inspectRaw, pullToOciDir, pushRandomImage, pushRandomIndex, type TestImage } from '../testbed/images.js';
import { startTokenServer, type TokenServer } from '../testbed/token-server.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { headDigest, pushArtifact, pushCosignTag, referrersIndex } from '../testbed/referrers.js';

let built: BuiltCli | undefined;
let buildDir: string;
let cli: string;

function ferry(...args: string[]): Promise<Run> {
  return built!.run(args);
}

function expectOneLineError(run: Run, code: number): void {
  expect(run.code).toBe(code);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^ferry: \S/);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  built = await buildCli('ferry-cli-build-');
  ({ dir: buildDir, cli } = built);
});

afterAll(async () => {
  await stopAllRegistries();
  await built?.dispose();
});

describe('ferry copy between plain registries', () => {
  let src: DistributionRegistry;
  let dst: DistributionRegistry;
  let single: TestImage;
  let multi: TestImage;

  beforeAll(async () => {
    [src, dst] = (await startRegistries(2)) as [DistributionRegistry, DistributionRegistry];
    single = await pushRandomImage(`${src.host}/team/app:v1`, { layerSizes: [1024, 200_000, 3_000_000] });
    multi = await pushRandomIndex(`${src.host}/team/multi:v1`, { layerSizes: [5000, 70_000] });
  });

  it('copies a single-arch image byte-identical and pullable, reporting --json', async () => {
    const run = await ferry('copy', '--insecure', '--json', `${src.host}/team/app:v1`, `${dst.host}/mirror/app:v1`);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['blobs', 'bytes', 'digest', 'manifests', 'mediaType', 'seconds']);
    expect(out).toMatchObject({
      digest: single.digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      manifests: 1,
      blobs: { copied: 4, skipped: 0, mounted: 0 },
    });
    const layerBytes = single.layers.reduce((n, l) => n + l.size, 0) + single.configs[0]!.size;
    expect(out.bytes).toBe(layerBytes);
    expect(typeof out.seconds).toBe('number');
    const there = await inspectRaw(`${dst.host}/mirror/app:v1`);
    expect(there.equals(await inspectRaw(`${src.host}/team/app:v1`))).toBe(true);
    await pullToOciDir(`${dst.host}/mirror/app:v1`);
  });

  it('copies a multi-arch index with every platform, digests preserved', async () => {
    const run = await ferry('copy', '--insecure', '--json', `docker://${src.host}/team/multi:v1`, `docker://${dst.host}/mirror/multi:v1`);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { digest: string; manifests: number; blobs: { copied: number } };
    expect(out.digest).toBe(multi.digest);
    expect(out.manifests).toBe(3);
    expect(out.blobs.copied).toBe(6);
    expect((await inspectRaw(`${dst.host}/mirror/multi:v1`)).equals(multi.bytes)).toBe(true);
    for (const child of multi.children) {
      expect(digestOf(await inspectRaw(`${dst.host}/mirror/multi@${child.digest}`))).toBe(child.digest);
    }
    await pullToOciDir(`${dst.host}/mirror/multi:v1`);
  });

  it('copies the signature and SBOM that refer to the image (fallback tag schema); --no-referrers copies the image alone', async () => {
    const image = await pushRandomImage(`${src.host}/team/signed:v1`, { layerSizes: [1024] });
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length };
    const sig = await pushCosignTag(src.url, 'team/signed', image.digest, 'sig');
    const sbom = await pushArtifact(src.url, 'team/signed', subject, { artifactType: 'application/spdx+json', maintainIndex: true });
    const indexTag = image.digest.replace(':', '-');

    const bare = await ferry('copy', '--insecure', '--no-referrers', `${src.host}/team/signed:v1`, `${dst.host}/bare/signed:v1`);
    expect(bare.code, bare.stderr).toBe(0);
    expect(await headDigest(dst.url, 'bare/signed', 'v1')).toBe(image.digest);
    expect(await headDigest(dst.url, 'bare/signed', `${indexTag}.sig`)).toBeUndefined();
    expect(await headDigest(dst.url, 'bare/signed', sbom.digest)).toBeUndefined();

    const run = await ferry('copy', '--insecure', '--json', `${src.host}/team/signed:v1`, `${dst.host}/signed/app:v1`);
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { manifests: number }).manifests).toBe(3);
    expect(await headDigest(dst.url, 'signed/app', `${indexTag}.sig`)).toBe(sig.digest);
    expect(await headDigest(dst.url, 'signed/app', sbom.digest)).toBe(sbom.digest);
    expect((await referrersIndex(dst.url, 'signed/app', image.digest)).map((d) => d.digest)).toEqual([sbom.digest]);
  });

  it('--platform copies one platform of an index under the tag; an unknown one names what exists', async () => {
    const arm64 = multi.children.find((c) => c.platform?.architecture === 'arm64')!;
    const run = await ferry('copy', '--insecure', '--platform', 'linux/arm64/v8', `${src.host}/team/multi:v1`, `${dst.host}/one/multi:v1`);
    expect(run.code, run.stderr).toBe(0);
    expect(digestOf(await inspectRaw(`${dst.host}/one/multi:v1`))).toBe(arm64.digest);
    const unknown = await ferry('copy', '--insecure', '--platform', 'linux/s390x', `${src.host}/team/multi:v1`, `${dst.host}/one/multi:v2`);
    expectOneLineError(unknown, 1);
    expect(unknown.stderr).toMatch(/has no platform linux\/s390x \(it has linux\/amd64, linux\/arm64\/v8\)/);
  });

  it('re-copying to the same tag transfers nothing', async () => {
    const run = await ferry('copy', '--insecure', '--json', `${src.host}/team/app:v1`, `${dst.host}/mirror/app:v1`);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ digest: single.digest, blobs: { copied: 0, mounted: 0 }, bytes: 0 });
    const human = await ferry('copy', '--insecure', `${src.host}/team/app:v1`, `${dst.host}/mirror/app:v1`);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('already at');
  });

  it('copying to a new tag of the same repository skips every blob', async () => {
    const run = await ferry('copy', '--insecure', '--json', `${src.host}/team/app:v1`, `${dst.host}/mirror/app:v1-again`);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ digest: single.digest, manifests: 1, blobs: { copied: 0, skipped: 4, mounted: 0 }, bytes: 0 });
  });

  it('mounts blobs into a new repository when the destination holds them under the source name', async () => {
    expect((await ferry('copy', '--insecure', `${src.host}/team/app:v1`, `${dst.host}/team/app:v1`)).code).toBe(0);
    const run = await ferry('copy', '--insecure', '--json', `${src.host}/team/app:v1`, `${dst.host}/team/fork:v1`);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ blobs: { copied: 0, skipped: 0, mounted: 4 }, bytes: 0 });
    await pullToOciDir(`${dst.host}/team/fork:v1`);
  });

  it('copies by source digest and pushes by digest when the destination names one', async () => {
    const run = await ferry('copy', '--insecure', '--json', `${src.host}/team/app@${single.digest}`, `${dst.host}/bydigest/app@${single.digest}`);
    expect(run.code).toBe(0);
    expect(digestOf(await inspectRaw(`${dst.host}/bydigest/app@${single.digest}`))).toBe(single.digest);
  });

  it('refuses a destination digest that is not the source image (exit 2)', async () => {
    const other = `sha256:${'0'.repeat(64)}`;
    expectOneLineError(await ferry('copy', '--insecure', `${src.host}/team/app:v1`, `${dst.host}/bydigest/app@${other}`), 2);
  });

  it('prints a human summary without --json', async () => {
    const run = await ferry('copy', '--insecure', `${src.host}/team/multi:v1`, `${dst.host}/human/multi:v1`);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^copied ${multi.digest} to ${dst.host}/human/multi:v1: 3 manifest\\(s\\), blobs 6 copied`));
  });

  it('shows progress on a terminal (and none when piped)', async () => {
    // `script` gives the CLI a pseudo-terminal, as a user's shell would.
    const tty = await new Promise<string>((resolve, reject) => {
      execFile('script', ['-qec', `${process.execPath} ${cli} copy --insecure ${src.host}/team/app:v1 ${dst.host}/tty/app:v1`, '/dev/null'], { timeout: 60_000 }, (error, stdout) =>
        error ? reject(error) : resolve(stdout),
      );
    });
    expect(tty).toMatch(/copying \[.*\] \d+\/4 blobs/);
    expect(tty).toContain(`copied ${single.digest} to ${dst.host}/tty/app:v1`);
    const piped = await ferry('copy', '--insecure', `${src.host}/team/app:v1`, `${dst.host}/piped/app:v1`);
    expect(piped.stderr).toBe('');
  });

  it('fails with exit 1 and one line when the source image does not exist', async () => {
    const run = await ferry('copy', '--insecure', `${src.host}/team/missing:v1`, `${dst.host}/mirror/missing:v1`);
    expectOneLineError(run, 1);
    expect(run.stderr).toContain('team/missing');
  });

  it('without --insecure speaks https, and says so when the registry is plain http', async () => {
    const run = await ferry('copy', `${src.host}/team/app:v1`, `${dst.host}/mirror/app:v9`);
    expectOneLineError(run, 1);
    expect(run.stderr).toContain('--insecure');
  });
});

describe('ferry copy usage errors', () => {
  it.each([
    ['a bad repository name', ['copy', '--insecure', '127.0.0.1:5000/Team/App:v1', '127.0.0.1:5001/x:v1']],
    ['a path-traversal tag', ['copy', '--insecure', '127.0.0.1:5000/team/app:../../etc', '127.0.0.1:5001/x:v1']],
    // `app:v1` alone is Docker Hub's library/app (as docker reads it); upper case is no repository name.
    ['an invalid repository name', ['copy', '--insecure', 'App:v1', '127.0.0.1:5001/x:v1']],
    ['a bad digest', ['copy', '--insecure', '127.0.0.1:5000/team/app@sha256:abc', '127.0.0.1:5001/x:v1']],
    ['malformed credentials', ['copy', '--insecure', '--src-creds', 'nocolon', '127.0.0.1:5000/team/app:v1', '127.0.0.1:5001/x:v1']],
    ['a missing argument', ['copy', '127.0.0.1:5000/team/app:v1']],
    ['an unknown option', ['copy', '--frobnicate', '127.0.0.1:5000/team/app:v1', '127.0.0.1:5001/x:v1']],
    ['an unknown command', ['frobnicate']],
  ])('exits 2 with one line for %s', async (_what, args) => {
    expectOneLineError(await ferry(...args), 2);
  });

  it('exits 1 with one line and no stack trace when a registry is unreachable', async () => {
    const run = await ferry('copy', '--insecure', '127.0.0.1:1/team/app:v1', '127.0.0.1:2/team/app:v1');
    expectOneLineError(run, 1);
    expect(run.stderr).toContain('127.0.0.1:1');
  });

  it('exits 2 when no command is given, 0 for --version', async () => {
    const bare = await ferry();
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: ferry');
    const version = await ferry('--version');
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('shows help with exit 0', async () => {
    const run = await ferry('copy', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--dest-creds');
    expect(run.stdout).toContain('--all-platforms');
  });
});

describe('ferry copy with authentication', () => {
  let basic: DistributionRegistry;
  let token: DistributionRegistry;
  let tokens: TokenServer;
  let image: TestImage;
  const basicCreds = { username: 'robot', password: 'b4sic:with:colons' };

  beforeAll(async () => {
    tokens = await startTokenServer({ users: { pusher: 'tok' } });
    [basic, token] = await Promise.all([
      startRegistry({ htpasswd: { users: { robot: basicCreds.password } } }),
      startRegistry({ token: tokens.auth }),
    ]);
    image = await pushRandomIndex(`${basic.host}/private/app:v1`, { creds: basicCreds });
  });
  afterAll(async () => {
    await Promise.all([basic?.stop(), token?.stop()]);
    await tokens?.stop();
  });

  it('copies from a Basic-auth registry to a token-auth registry with --src-creds/--dest-creds', async () => {
    const run = await ferry(
      'copy', '--insecure', '--json',
      '--src-creds', `${basicCreds.username}:${basicCreds.password}`,
      '--dest-creds', 'pusher:tok',
      `${basic.host}/private/app:v1`, `${token.host}/mirror/app:v1`,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ digest: image.digest });
    expect(digestOf(await inspectRaw(`${token.host}/mirror/app:v1`, { username: 'pusher', password: 'tok' }))).toBe(image.digest);
    expect(tokens.requests.some((r) => r.user === 'pusher' && r.scopes.some((s) => s.startsWith('repository:mirror/app:') && s.includes('push')))).toBe(true);
  });

  it('reads credentials from ~/.docker/config.json when no flags are given', async () => {
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(join(buildDir, '.docker'), { recursive: true });
    const auth = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString('base64');
    await writeFile(
      join(buildDir, '.docker', 'config.json'),
      JSON.stringify({ auths: { [basic.host]: { auth: auth(basicCreds.username, basicCreds.password) }, [token.host]: { auth: auth('pusher', 'tok') } } }),
    );
    try {
      const run = await ferry('copy', '--insecure', '--json', `${basic.host}/private/app:v1`, `${token.host}/mirror/fromconfig:v1`);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(digestOf(await inspectRaw(`${token.host}/mirror/fromconfig:v1`, { username: 'pusher', password: 'tok' }))).toBe(image.digest);
    } finally {
      await rm(join(buildDir, '.docker'), { recursive: true, force: true });
    }
  });

  it('fails with exit 1 and one line without credentials or with wrong ones', async () => {
    const anonymous = await ferry('copy', '--insecure', `${basic.host}/private/app:v1`, `${token.host}/mirror/app:v2`);
    expectOneLineError(anonymous, 1);
    // Missing and wrong credentials are told apart, each with what to do.
    expect(anonymous.stderr).toMatch(new RegExp(`^ferry: registry ${basic.host} requires credentials and none were found \\(looked for ${basic.host} in .*config\\.json\\): pass --src-creds USER:PASSWORD or log in with`));
    const wrong = await ferry('copy', '--insecure', '--src-creds', `${basicCreds.username}:${basicCreds.password}`, '--dest-creds', 'pusher:wrong', `${basic.host}/private/app:v1`, `${token.host}/mirror/app:v2`);
    expectOneLineError(wrong, 1);
    expect(wrong.stderr).toMatch(new RegExp(`^ferry: registry ${token.host} refused the credentials of user "pusher" from --dest-creds \\(.*\\): check them, or log in again`));
  });
});

describe('ferry copy through a flaky network', () => {
  let src: DistributionRegistry;
  let dst: DistributionRegistry;
  let proxy: FaultProxy;
  let image: TestImage;

  beforeAll(async () => {
    [src, dst] = (await startRegistries(2)) as [DistributionRegistry, DistributionRegistry];
    proxy = await startFaultProxy(dst.url);
    image = await pushRandomImage(`${src.host}/team/app:v1`, { layerSizes: [100_000, 200_000] });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('rides out 429 with Retry-After and a 503 from the destination', async () => {
    proxy.failWith({ method: 'HEAD', path: '/blobs/' }, 429, 2, 1);
    proxy.failWith({ method: 'PUT', path: '/manifests/' }, 503, 1);
    const run = await ferry('copy', '--insecure', '--json', `${src.host}/team/app:v1`, `${proxy.host}/mirror/app:v1`);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(proxy.pendingFaults()).toBe(0);
    expect(digestOf(await inspectRaw(`${dst.host}/mirror/app:v1`))).toBe(image.digest);
  });

  it('fails with exit 1 and leaves no manifest when blob bytes arrive corrupted every time', async () => {
    const proxied = await startFaultProxy(src.url);
    try {
      proxied.inject({ match: { method: 'GET', path: `/blobs/${image.layers[1]!.digest}` }, fault: { kind: 'corrupt' }, times: Infinity });
      const run = await ferry('copy', '--insecure', `${proxied.host}/team/app:v1`, `${dst.host}/mirror/corrupt:v1`);
      expectOneLineError(run, 1);
      expect(run.stderr).toMatch(/digest|sha256/i);
      await expect(inspectRaw(`${dst.host}/mirror/corrupt:v1`)).rejects.toThrow(/manifest unknown|not found/i);
    } finally {
      await proxied.stop();
    }
  });
});
