// `ferry copy` from a source whose blobs fail mid-copy ends with a one-line error and exit 1,
// never an unhandled stream error. Sources are real Distribution registries whose blob data
// file was deleted: with an in-memory blob descriptor cache (Debian's packaged config) the GET
// is answered with headers and a body that breaks off; without the cache, with 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushRandomImage, type TestImage } from '../testbed/images.js';
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
});
