// `ferry copy` from a source whose blobs fail mid-copy ends with a one-line error and exit 1,
// never an unhandled stream error. Sources are real Distribution registries whose blob data
// file was deleted: with an in-memory blob descriptor cache (Debian's packaged config) the GET
// is answered with headers and a body that breaks off; without the cache, with 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSyntheticImage, neverEnds, overclaim, startHostileRegistry } from '../testbed/hostile-registry.js';
import { digestOf, inspectRaw, pushRandomImage, type TestImage } from '../testbed/images.js';
import { deleteBlobData, startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { ferryCli, type CliResult } from '../e2e/ferry-process.js';

let dst: DistributionRegistry;

function expectOneLineError(run: CliResult, pattern: RegExp): void {
  expect(run.stderr).not.toContain("Unhandled 'error' event");
  expect(run.code).toBe(1);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

beforeAll(async () => {
  dst = await startRegistry({ name: 'broken-dst' });
});

afterAll(async () => {
  await stopAllRegistries();
});

describe('ferry copy from a broken source', () => {
  it('fails cleanly when a blob body breaks off after its headers', async () => {
    const src = await startRegistry({ name: 'broken-cut', blobDescriptorCache: true });
    const image: TestImage = await pushRandomImage(`${src.host}/team/app:v1`, { layerSizes: [1_000_000, 3_000_000] });
    const cut = image.layers[1]!.digest;
    await deleteBlobData(src, cut);
    const run = await ferryCli(['copy', '--insecure', `${src.host}/team/app:v1`, `${dst.host}/mirror/cut:v1`], { env: { FERRY_DEBUG: '' } });
    expectOneLineError(run, new RegExp(`^ferry: .*${cut}.*(network error|connection closed)`));
  });

  it('fails cleanly when one blob fails while a sibling is streaming', async () => {
    const src = await startRegistry({ name: 'broken-404' });
    const image = await pushRandomImage(`${src.host}/team/app:v1`, { layerSizes: [60_000_000, 1_000] });
    const missing = image.layers[1]!.digest;
    await deleteBlobData(src, missing);
    // The 404 aborts the 60 MB sibling mid-stream; which of them is further along varies, so try a few times.
    for (let i = 0; i < 3; i++) {
      const run = await ferryCli(['copy', '--insecure', `${src.host}/team/app:v1`, `${dst.host}/mirror/sibling${i}:v1`], { env: { FERRY_DEBUG: '' } });
      expectOneLineError(run, new RegExp(`^ferry: blob team/app@${missing} not found`));
    }
  });

  it.each([
    ['claims 100 bytes more in Content-Length than it sends', overclaim(100)],
    ['sends no Content-Length and never ends the response', neverEnds()],
  ])('completes promptly when a source %s', async (_name, handler) => {
    // A hostile test server: no real registry holds a blob response open on purpose.
    const hostile = await startHostileRegistry();
    try {
      const image = addSyntheticImage(hostile, 'evil/app', 'v1', [200_000, 3_000]);
      hostile.onBlob(image.layers[0]!.digest, handler);
      const started = Date.now();
      const target = `${dst.host}/mirror/held-${Date.now()}:v1`;
      const run = await ferryCli(['copy', '--insecure', '--json', `${hostile.host}/evil/app:v1`, target], { env: { FERRY_DEBUG: '' }, timeoutMs: 90_000 });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      // Without the fix: 60 s until the rate floor cuts the held stream (before it: forever).
      expect(Date.now() - started).toBeLessThan(20_000);
      const out = JSON.parse(run.stdout) as { digest: string; blobs: { copied: number } };
      expect(out.digest).toBe(image.manifest.digest);
      expect(out.blobs.copied).toBe(3);
      expect(digestOf(await inspectRaw(target))).toBe(image.manifest.digest);
    } finally {
      await hostile.stop();
    }
  });
});
