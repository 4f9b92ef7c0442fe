// `ferry copy` against HTTPS registries signed by a private CA: trust from --*-cert-dir (a
// directory of *.crt files, as skopeo reads it), skopeo's --*-tls-verify names, http -> https
// and https -> http copies, and the one-line errors an untrusted certificate gives.
import { mkdir, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, type BuiltCli, type Run } from './built-cli.js';
import { createPrivateCa, type PrivateCa } from '../testbed/pki.js';
import { digestOf, inspectRaw, pushRandomImage, type TestImage } from '../testbed/images.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let built: BuiltCli | undefined;
let buildDir: string;
let ca: PrivateCa;
let otherCa: PrivateCa;
let plain: DistributionRegistry;
let secureSrc: DistributionRegistry;
let secureDst: DistributionRegistry;
let image: TestImage;

function ferry(...args: string[]): Promise<Run> {
  // Trust comes only from the flags under test.
  const { NODE_EXTRA_CA_CERTS: _ignored, ...env } = process.env;
  return built!.run(args, env);
}

function oneLine(run: Run): string {
  expect(run.code).toBe(1);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

beforeAll(async () => {
  const building = buildCli('ferry-cli-tls-');
  [ca, otherCa] = await Promise.all([createPrivateCa('cli-tls'), createPrivateCa('cli-tls-other')]);
  [plain, secureSrc, secureDst] = await Promise.all([
    startRegistry({ name: 'tls-plain' }),
    startRegistry({ name: 'tls-src', tls: ca.server }),
    startRegistry({ name: 'tls-dst', tls: ca.server }),
  ]);
  image = await pushRandomImage(`${plain.host}/team/app:v1`, { layerSizes: [200_000, 100_000] });
  built = await building;
  buildDir = built.dir;
}, 180_000);

afterAll(async () => {
  await stopAllRegistries();
  await Promise.all([ca?.dispose(), otherCa?.dispose()]);
  await built?.dispose();
});

describe('ferry copy with a private CA', () => {
  it('copies http -> https: the source falls back to plain http with --src-tls-verify=false, the destination verifies with --dest-cert-dir', async () => {
    const run = await ferry('copy', '--json', '--src-tls-verify=false', '--dest-cert-dir', ca.certDir, `${plain.host}/team/app:v1`, `${secureDst.host}/team/app:v1`);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(digestOf(await inspectRaw(`${secureDst.host}/team/app:v1`))).toBe(image.digest);
  });

  it('copies https -> https verifying both sides with --src-cert-dir and --dest-cert-dir', async () => {
    const run = await ferry('copy', '--json', '--src-cert-dir', ca.certDir, '--dest-cert-dir', ca.certDir, `${secureDst.host}/team/app:v1`, `${secureSrc.host}/copied/app:v1`);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(digestOf(await inspectRaw(`${secureSrc.host}/copied/app:v1`))).toBe(image.digest);
  });

  it('copies https -> http with --insecure (both sides unverified, plain http where TLS is not spoken)', async () => {
    const run = await ferry('copy', '--json', '--insecure', `${secureSrc.host}/copied/app:v1`, `${plain.host}/back/app:v1`);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(digestOf(await inspectRaw(`${plain.host}/back/app:v1`))).toBe(image.digest);
  });

  it('without the CA fails in one line naming the flag that fixes it', async () => {
    const line = oneLine(await ferry('copy', `${secureSrc.host}/copied/app:v1`, `${plain.host}/x/app:v1`));
    expect(line).toMatch(/^ferry: GET https:\/\/127\.0\.0\.1:\d+\/v2\/ \(registry 127\.0\.0\.1:\d+\) failed: TLS certificate not trusted \(\w+: .*\); pass --src-cert-dir DIR holding its CA as \*\.crt/);
  });

  it('with the wrong CA fails the same way, for the side that has it', async () => {
    const line = oneLine(await ferry('copy', '--src-tls-verify=false', '--dest-cert-dir', otherCa.certDir, `${plain.host}/team/app:v1`, `${secureDst.host}/y/app:v1`));
    expect(line).toMatch(/TLS certificate not trusted \(\w+: .*\); pass --dest-cert-dir DIR holding its CA as \*\.crt \(or set NODE_EXTRA_CA_CERTS\), or --dest-tls-verify=false$/);
  });

  it('a plain http registry with verification on says which flag allows http', async () => {
    const line = oneLine(await ferry('copy', `${plain.host}/team/app:v1`, `${secureDst.host}/z/app:v1`));
    expect(line).toMatch(/TLS handshake failed \(if the registry serves plain http, pass --src-tls-verify=false or --insecure\)$/);
  });

  it('a cert dir without certificates is refused in one line', async () => {
    const empty = join(buildDir, 'empty-certs');
    await mkdir(empty, { recursive: true });
    await copyFile(ca.caFile, join(empty, 'ca.pem')); // not *.crt: skopeo ignores it too
    const line = oneLine(await ferry('copy', '--src-cert-dir', empty, `${secureSrc.host}/copied/app:v1`, `${plain.host}/w/app:v1`));
    expect(line).toMatch(/--src-cert-dir: no \*\.crt file with a PEM certificate in /);
  });
});
