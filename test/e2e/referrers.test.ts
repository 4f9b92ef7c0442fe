// ferry serve end to end for what regsync and Harbor users replicate besides plain tags:
// semver:/regex: tag filters, signatures and attestations that follow their image (cosign
// tags and OCI 1.1 manifests with `subject`), and platform selection. A real source
// Distribution 2.8.2 registry notifies a real `ferry serve`, which replicates into a real
// destination registry; every assertion looks at the registries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushRandomImage } from '../testbed/images.js';
import { arrives, rawOrUndefined, settled, sleep, startScenario, type Scenario } from './scenario.js';

describe('ferry serve: tag filters, referrers, platforms', () => {
  let s: Scenario;
  const src = (ref: string) => `${s.src.host}/${ref}`;
  const dst = (ref: string) => `${s.dst.host}/${ref}`;

  beforeAll(async () => {
    s = await startScenario({
      policies: [
        { name: 'sv', source: 'src', repositories: ['sv/**'], tags: ['semver:^1.2', 'regex:stable|lts-\\d+', '!semver:1.3.x'], destinations: [{ registry: 'dst' }] },
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
});
