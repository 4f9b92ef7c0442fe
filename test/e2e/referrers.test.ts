// ferry serve end to end for what regsync and Harbor users replicate besides plain tags:
// semver:/regex: tag filters, signatures and attestations that follow their image (cosign
// tags and OCI 1.1 manifests with `subject`), and platform selection. A real source
// Distribution 2.8.2 registry notifies a real `ferry serve`, which replicates into a real
// destination registry; every assertion looks at the registries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectRaw, pushRandomImage, pushRandomIndex } from '../testbed/images.js';
import { headDigest, pushArtifact, pushCosignTag, referrersIndex } from '../testbed/referrers.js';
import { arrives, eventually, rawOrUndefined, settled, sleep, startScenario, type Scenario } from './scenario.js';

describe('ferry serve: tag filters, referrers, platforms', () => {
  let s: Scenario;
  const src = (ref: string) => `${s.src.host}/${ref}`;
  const dst = (ref: string) => `${s.dst.host}/${ref}`;

  beforeAll(async () => {
    s = await startScenario({
      policies: [
        { name: 'sv', source: 'src', repositories: ['sv/**'], tags: ['semver:^1.2', 'regex:stable|lts-\\d+', '!semver:1.3.x'], destinations: [{ registry: 'dst' }] },
        { name: 'signed', source: 'src', repositories: ['signed/**'], tags: ['v*'], destinations: [{ registry: 'dst' }] },
        { name: 'one', source: 'src', repositories: ['one/**'], platforms: ['linux/arm64/v8'], destinations: [{ registry: 'dst' }] },
        { name: 'two', source: 'src', repositories: ['two/**'], platforms: ['linux/amd64', 'linux/arm64'], destinations: [{ registry: 'dst' }] },
      ],
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('semver: and regex: filters select the pushed tags they describe', async () => {
    const wanted = await pushRandomImage(src('sv/app:v1.2.5'), { layerSizes: [512] });
    const stable = await pushRandomImage(src('sv/app:stable'), { layerSizes: [512] });
    const lts = await pushRandomImage(src('sv/app:lts-7'), { layerSizes: [512] });
    for (const tag of ['1.1.0', '1.3.2', '2.0.0', 'stable-old', 'lts-x']) await pushRandomImage(src(`sv/app:${tag}`), { layerSizes: [256] });
    await arrives(dst('sv/app:v1.2.5'), wanted.bytes);
    await arrives(dst('sv/app:stable'), stable.bytes);
    await arrives(dst('sv/app:lts-7'), lts.bytes);
    await sleep(1000);
    await settled(s);
    for (const tag of ['1.1.0', '1.3.2', '2.0.0', 'stable-old', 'lts-x']) expect(await rawOrUndefined(dst(`sv/app:${tag}`)), tag).toBeUndefined();
  });

  it('a cosign signature and an OCI SBOM pushed after the image replicate by webhook, past the v* filter', async () => {
    const image = await pushRandomImage(src('signed/app:v1'), { layerSizes: [512] });
    await arrives(dst('signed/app:v1'), image.bytes);
    const indexTag = image.digest.replace(':', '-');
    // Minutes later in real life: the signer pushes its tag, the SBOM tool its artifact (by
    // digest, then the subject's index tag, as clients of a registry without the API do).
    const sig = await pushCosignTag(s.src.url, 'signed/app', image.digest, 'sig');
    const sbom = await pushArtifact(s.src.url, 'signed/app', { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length }, { artifactType: 'application/spdx+json', maintainIndex: true });
    await eventually('the .sig tag at the destination', async () => ((await headDigest(s.dst.url, 'signed/app', `${indexTag}.sig`)) === sig.digest ? true : undefined));
    await eventually('the SBOM at the destination', async () => ((await headDigest(s.dst.url, 'signed/app', sbom.digest)) === sbom.digest ? true : undefined));
    await eventually('the SBOM in the destination index', async () => ((await referrersIndex(s.dst.url, 'signed/app', image.digest)).some((d) => d.digest === sbom.digest) ? true : undefined));
    // A signature whose subject the filter keeps out stays at the source.
    const dev = await pushRandomImage(src('signed/app:dev'), { layerSizes: [256] });
    await pushCosignTag(s.src.url, 'signed/app', dev.digest, 'sig');
    await sleep(1500);
    await settled(s);
    expect(await headDigest(s.dst.url, 'signed/app', `${dev.digest.replace(':', '-')}.sig`)).toBeUndefined();
    expect(await headDigest(s.dst.url, 'signed/app', 'dev')).toBeUndefined();
  });

  it('a multi-arch push replicates as one platform, and as two (a new index of just those); verify agrees', async () => {
    const platforms = [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'arm', variant: 'v7' }];
    const one = await pushRandomIndex(src('one/app:v1'), { platforms, layerSizes: [512] });
    const two = await pushRandomIndex(src('two/app:v1'), { platforms, layerSizes: [512] });
    const arm64 = one.children.find((c) => c.platform?.architecture === 'arm64')!;
    // One platform: that platform's manifest, byte for byte, under the tag.
    await arrives(dst('one/app:v1'), await inspectRaw(src(`one/app@${arm64.digest}`)));
    // Two: an index listing exactly those children (a digest of its own).
    const index = await eventually('the two-platform index', async () => {
      const raw = await rawOrUndefined(dst('two/app:v1'));
      return raw && JSON.parse(raw.toString('utf8')).manifests ? raw : undefined;
    });
    const listed = (JSON.parse(index.toString('utf8')) as { manifests: Array<{ digest: string; platform: { architecture: string } }> }).manifests;
    expect(listed.map((m) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    expect(listed.map((m) => m.digest)).toEqual(two.children.filter((c) => c.platform?.architecture !== 'arm').map((c) => c.digest));
    for (const m of listed) expect(await rawOrUndefined(dst(`two/app@${m.digest}`))).toBeDefined();
    const armChild = two.children.find((c) => c.platform?.architecture === 'arm')!;
    await sleep(1500);
    await settled(s);
    expect(await rawOrUndefined(dst(`two/app@${armChild.digest}`))).toBeUndefined();
    for (const policy of ['one', 'two']) {
      const verified = await s.cliJson<{ inSync: boolean }>(['verify', '--policy', policy]);
      expect(verified.inSync, policy).toBe(true);
    }
  });
});
