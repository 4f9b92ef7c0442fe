// Referrers follow their subject, through the job replicator (what every worker runs),
// against real Distribution 2.8.2 registries, which have no referrers API: there the
// fallback is the real path (the test pushes artifacts as clients do, maintaining the
// referrers tag index), plus cosign's legacy `.sig`/`.att` tags. The referrers API path is
// tested against a small test server that implements `GET /v2/<name>/referrers/<digest>`
// per the OCI distribution spec in front of a real Distribution registry
// (test/testbed/referrers.ts), since no registry installed here has that endpoint.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type FerryConfig } from '../../shared/config/schema.js';
import { verifyPolicy } from '../../shared/reconcile/verify.js';
import { RegistryClient } from '../../shared/registry/client.js';
import { findReferrers, mergeFallbackIndex } from '../../shared/replicate/referrers.js';
import type { RegistryRequestObservation } from '../../shared/registry/transport.js';
import { createReplicator } from '../../shared/replicate/replicator.js';
import type { ReplicationTask } from '../../shared/replicate/types.js';
import { pushRandomImage } from '../testbed/images.js';
import {
  headDigest, pushArtifact, pushCosignTag, referrersIndex, startReferrersApiServer, type Descriptor, type ReferrersApiServer,
} from '../testbed/referrers.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let plainSrc: DistributionRegistry;
let plainDst: DistributionRegistry;
let apiSrcBackend: DistributionRegistry;
let apiDstBackend: DistributionRegistry;
let apiSrc: ReferrersApiServer;
let apiDst: ReferrersApiServer;
const clients = new Map<string, RegistryClient>();

const SBOM = 'application/spdx+json';
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';

beforeAll(async () => {
  [plainSrc, plainDst, apiSrcBackend, apiDstBackend] = (await startRegistries(4, (i) => ({ name: ['refsrc', 'refdst', 'refapisrc', 'refapidst'][i]!, logLevel: 'warn' }))) as DistributionRegistry[] as [DistributionRegistry, DistributionRegistry, DistributionRegistry, DistributionRegistry];
  apiSrc = await startReferrersApiServer(apiSrcBackend.url);
  apiDst = await startReferrersApiServer(apiDstBackend.url);
});

afterAll(async () => {
  for (const c of clients.values()) await c.close().catch(() => {});
  await apiSrc?.stop();
  await apiDst?.stop();
  await stopAllRegistries();
});

function config(policy: Record<string, unknown> = {}): FerryConfig {
  const registry = (url: string) => ({ url, insecure: true, limits: { concurrency: 16, requestsPerSecond: 2000 } });
  return configSchema.parse({
    registries: { src: registry(plainSrc.url), dst: registry(plainDst.url), apisrc: registry(apiSrc.url), apidst: registry(apiDst.url) },
    policies: [{ name: 'p', source: 'src', tags: ['v*'], destinations: [{ registry: 'dst' }], ...policy }],
  });
}

function clientsFor(cfg: FerryConfig): Map<string, RegistryClient> {
  for (const [name, r] of Object.entries(cfg.registries)) {
    if (!clients.has(name)) clients.set(name, new RegistryClient({ name, url: r.url, insecure: true, limits: { concurrency: 16, requestsPerSecond: 2000 } }));
  }
  return clients;
}

let jobs = 0;
function run(cfg: FerryConfig, source: { registry: string; repository: string; reference: string }, destination: { registry: string; repository: string }) {
  const task: ReplicationTask = { id: `j${jobs++}`, policy: cfg.policies[0]!.name, source, destination, trigger: { kind: 'reconcile', at: new Date().toISOString() } };
  return createReplicator({ config: cfg, clients: clientsFor(cfg) })(task, {});
}

async function imageAt(url: string, repository: string, tag: string): Promise<Descriptor> {
  const image = await pushRandomImage(`${new URL(url).host}/${repository}:${tag}`, { layerSizes: [512] });
  return { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length };
}

describe('on registries without the referrers API (the fallback tag schema)', () => {
  it('cosign .sig/.att tags, an SBOM with subject and a signature on the SBOM replicate with the image, past a v* tag filter', async () => {
    const repo = 'team/app';
    const image = await imageAt(plainSrc.url, repo, 'v1');
    const sig = await pushCosignTag(plainSrc.url, repo, image.digest, 'sig');
    const att = await pushCosignTag(plainSrc.url, repo, image.digest, 'att');
    const sbom = await pushArtifact(plainSrc.url, repo, image, { artifactType: SBOM, maintainIndex: true });
    const sbomSig = await pushArtifact(plainSrc.url, repo, sbom.descriptor, { artifactType: SIG, maintainIndex: true });

    const cfg = config();
    const outcome = await run(cfg, { registry: 'src', repository: repo, reference: 'v1' }, { registry: 'dst', repository: repo });
    expect(outcome).toMatchObject({ action: 'copied', digest: image.digest });

    const tagSig = `${image.digest.replace(':', '-')}.sig`;
    expect(await headDigest(plainDst.url, repo, 'v1')).toBe(image.digest);
    expect(await headDigest(plainDst.url, repo, tagSig)).toBe(sig.digest);
    expect(await headDigest(plainDst.url, repo, `${image.digest.replace(':', '-')}.att`)).toBe(att.digest);
    expect(await headDigest(plainDst.url, repo, sbom.digest)).toBe(sbom.digest);
    expect(await headDigest(plainDst.url, repo, sbomSig.digest)).toBe(sbomSig.digest);
    // Clients that only know the tag schema find them at the destination too.
    expect((await referrersIndex(plainDst.url, repo, image.digest)).map((d) => [d.digest, d.artifactType])).toEqual([[sbom.digest, SBOM]]);
    expect((await referrersIndex(plainDst.url, repo, sbom.digest)).map((d) => d.digest)).toEqual([sbomSig.digest]);

    // Verify looks at referrers too (the sha256-* tags are not compared as tags of their own).
    const verified = await verifyPolicy({ config: cfg, clients: clientsFor(cfg), policy: 'p' });
    expect(verified).toMatchObject({ inSync: true, differences: [], errors: [] });
    expect(verified.counts.tags).toBe(1);

    // A second run finds everything there.
    expect(await run(cfg, { registry: 'src', repository: repo, reference: 'v1' }, { registry: 'dst', repository: repo })).toMatchObject({ action: 'skipped' });
  });

  it('verify reports a referrer missing at the destination; the tag job puts it back', async () => {
    const repo = 'team/drift';
    const image = await imageAt(plainSrc.url, repo, 'v2');
    const cfg = config();
    await run(cfg, { registry: 'src', repository: repo, reference: 'v2' }, { registry: 'dst', repository: repo });
    const later = await pushArtifact(plainSrc.url, repo, image, { artifactType: SBOM, maintainIndex: true });
    const sig = await pushCosignTag(plainSrc.url, repo, image.digest, 'sig');

    const drift = await verifyPolicy({ config: cfg, clients: clientsFor(cfg), policy: 'p' });
    const mine = drift.differences.filter((d) => d.repository === repo);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ kind: 'missing', tag: 'v2', sourceDigest: image.digest, destinationDigest: image.digest });
    expect(mine[0]!.missingReferrers!.sort()).toEqual([`referrer ${later.digest} of ${image.digest}`, `tag ${image.digest.replace(':', '-')}.sig (${sig.digest})`].sort());

    expect(await run(cfg, { registry: 'src', repository: repo, reference: 'v2' }, { registry: 'dst', repository: repo })).toMatchObject({ action: 'copied' });
    expect((await verifyPolicy({ config: cfg, clients: clientsFor(cfg), policy: 'p' })).differences.filter((d) => d.repository === repo)).toEqual([]);
  });

  it('a multi-arch index brings the referrers of each child', async () => {
    const repo = 'team/multi';
    const { pushRandomIndex } = await import('../testbed/images.js');
    const index = await pushRandomIndex(`${plainSrc.host}/${repo}:v3`);
    const child = index.children[1]!;
    const childSbom = await pushArtifact(plainSrc.url, repo, { mediaType: child.mediaType, digest: child.digest, size: child.size }, { artifactType: SBOM, maintainIndex: true });
    await run(config(), { registry: 'src', repository: repo, reference: 'v3' }, { registry: 'dst', repository: repo });
    expect(await headDigest(plainDst.url, repo, childSbom.digest)).toBe(childSbom.digest);
    expect((await referrersIndex(plainDst.url, repo, child.digest)).map((d) => d.digest)).toEqual([childSbom.digest]);
  });

  it('referrerTypes selects by artifactType; referrers: false and digestTags: false copy none', async () => {
    const repo = 'team/types';
    const image = await imageAt(plainSrc.url, repo, 'v1');
    const sbom = await pushArtifact(plainSrc.url, repo, image, { artifactType: SBOM, maintainIndex: true });
    const other = await pushArtifact(plainSrc.url, repo, image, { artifactType: 'application/vnd.example.scan+json', maintainIndex: true });
    const sig = await pushCosignTag(plainSrc.url, repo, image.digest, 'sig');

    await run(config({ referrers: false, digestTags: false }), { registry: 'src', repository: repo, reference: 'v1' }, { registry: 'dst', repository: 'off/types' });
    expect(await headDigest(plainDst.url, 'off/types', 'v1')).toBe(image.digest);
    expect(await headDigest(plainDst.url, 'off/types', sbom.digest)).toBeUndefined();
    expect(await headDigest(plainDst.url, 'off/types', `${image.digest.replace(':', '-')}.sig`)).toBeUndefined();

    await run(config({ referrerTypes: ['application/spdx*'], digestTags: false }), { registry: 'src', repository: repo, reference: 'v1' }, { registry: 'dst', repository: repo });
    expect(await headDigest(plainDst.url, repo, sbom.digest)).toBe(sbom.digest);
    expect(await headDigest(plainDst.url, repo, other.digest)).toBeUndefined();
    expect(await headDigest(plainDst.url, repo, `${image.digest.replace(':', '-')}.sig`)).toBeUndefined();
    expect(sig.digest).toMatch(/^sha256:/);
  });

  it('a referrer job (the sha256-<hex> index tag, a .sig tag, a manifest with subject) needs its subject at the destination', async () => {
    const repo = 'team/late';
    const image = await imageAt(plainSrc.url, repo, 'dev');
    const sbom = await pushArtifact(plainSrc.url, repo, image, { artifactType: SBOM, maintainIndex: true });
    await pushCosignTag(plainSrc.url, repo, image.digest, 'sig');
    const cfg = config();
    const indexTag = image.digest.replace(':', '-');
    // The subject's tag (dev) is filtered out: nothing of it is at the destination.
    for (const reference of [indexTag, `${indexTag}.sig`, sbom.digest]) {
      expect(await run(cfg, { registry: 'src', repository: repo, reference }, { registry: 'dst', repository: repo }), reference).toMatchObject({ action: 'skipped', reason: expect.stringMatching(/is not at dst\/team\/late/) });
    }
    expect(await headDigest(plainDst.url, repo, sbom.digest)).toBeUndefined();
  });
});

describe('what the source is asked, when reconcile has just listed the repository', () => {
  /** A client of the plain source that records the path of every request it sends. */
  function countingClient(): { client: RegistryClient; paths: string[] } {
    const paths: string[] = [];
    const client = new RegistryClient({
      name: 'counted', url: plainSrc.url, insecure: true, limits: { concurrency: 16 },
      observer: (o: RegistryRequestObservation) => paths.push(`${o.method} ${o.path}`),
    });
    return { client, paths };
  }
  const drain = async (tags: AsyncIterable<string>): Promise<string[]> => {
    const out: string[] = [];
    for await (const t of tags) out.push(t);
    return out;
  };
  const options = { referrers: true, digestTags: true };

  it('asks for no referrer tag the listing lacks, and for the referrers API once per registry without it', async () => {
    const repo = 'listed/plain';
    const image = await imageAt(plainSrc.url, repo, 'v1');
    const other = await imageAt(plainSrc.url, repo, 'v2');
    const { client, paths } = countingClient();
    try {
      expect(await drain(client.tags(repo))).toEqual(['v1', 'v2']);
      paths.length = 0;
      expect(await findReferrers({ client, repository: repo }, image.digest, options)).toEqual([]);
      // Distribution 2.8 has no referrers API (404): that is the only request, and only once.
      expect(paths).toEqual([`GET /v2/${repo}/referrers/${image.digest}`]);
      paths.length = 0;
      expect(await findReferrers({ client, repository: repo }, other.digest, options)).toEqual([]);
      expect(paths).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('still finds the referrers whose tags the listing holds', async () => {
    const repo = 'listed/signed';
    const image = await imageAt(plainSrc.url, repo, 'v1');
    const sig = await pushCosignTag(plainSrc.url, repo, image.digest, 'sig');
    const sbom = await pushArtifact(plainSrc.url, repo, image, { artifactType: SBOM, maintainIndex: true });
    const { client, paths } = countingClient();
    try {
      await drain(client.tags(repo));
      paths.length = 0;
      const found = await findReferrers({ client, repository: repo }, image.digest, options);
      expect(found.map((f) => f.descriptor.digest).sort()).toEqual([sig.digest, sbom.digest].sort());
      const tag = image.digest.replace(':', '-');
      // The index tag and the .sig tag are read; .att and .sbom, absent from the listing, are not.
      expect(paths.filter((p) => p.includes('/manifests/')).sort()).toEqual([`GET /v2/${repo}/manifests/${tag}`, `HEAD /v2/${repo}/manifests/${tag}.sig`]);
    } finally {
      await client.close();
    }
  });

  it('a listing read only partly is not remembered', async () => {
    const repo = 'listed/partial';
    await imageAt(plainSrc.url, repo, 'v1');
    await imageAt(plainSrc.url, repo, 'v2');
    const { client } = countingClient();
    try {
      for await (const _tag of client.tags(repo)) break;
      expect(client.recentTags(repo, 60_000)).toBeUndefined();
      await drain(client.tags(repo));
      expect(client.recentTags(repo, 60_000)).toEqual(new Set(['v1', 'v2']));
    } finally {
      await client.close();
    }
  });

  it('a 404 carrying an OCI error (a registry with the API that does not know the repository) is asked again', async () => {
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(`${req.method} ${req.url}`);
      if (req.url === '/v2/') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(req.url?.includes('/referrers/') ? '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}' : '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new RegistryClient({ name: 'oci-404', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, insecure: true });
    try {
      const digest = `sha256:${'a'.repeat(64)}`;
      expect(await client.referrers('gone/app', digest)).toBeUndefined();
      expect(await client.referrers('gone/app', digest)).toBeUndefined();
      expect(paths.filter((p) => p.includes('/referrers/'))).toHaveLength(2);
    } finally {
      await client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('without a listing (a webhook job, ferry copy) every referrer tag is asked for', async () => {
    const repo = 'listed/unlisted';
    const image = await imageAt(plainSrc.url, repo, 'v1');
    const { client, paths } = countingClient();
    try {
      expect(await findReferrers({ client, repository: repo }, image.digest, options)).toEqual([]);
      expect(paths.filter((p) => p.includes('/manifests/'))).toHaveLength(4);
    } finally {
      await client.close();
    }
  });
});

describe('on registries with the referrers API (test server per the OCI distribution spec)', () => {
  it('a source with the API: referrers found through GET /v2/<name>/referrers/<digest>, written to a plain destination with its index tag', async () => {
    const repo = 'api/app';
    const image = await imageAt(apiSrc.url, repo, 'v1');
    // A client of a registry with the API pushes no index tag.
    const sbom = await pushArtifact(apiSrc.url, repo, image, { artifactType: SBOM, maintainIndex: false });
    expect(await headDigest(apiSrc.url, repo, image.digest.replace(':', '-'))).toBeUndefined();
    const cfg = configSchema.parse({ ...config(), policies: [{ name: 'api', source: 'apisrc', tags: ['v*'], destinations: [{ registry: 'dst' }] }] });
    const before = apiSrc.referrersRequests.length;
    await run(cfg, { registry: 'apisrc', repository: repo, reference: 'v1' }, { registry: 'dst', repository: repo });
    expect(apiSrc.referrersRequests.slice(before)).toContain(`/v2/${repo}/referrers/${image.digest}`);
    expect(await headDigest(plainDst.url, repo, sbom.digest)).toBe(sbom.digest);
    expect((await referrersIndex(plainDst.url, repo, image.digest)).map((d) => d.digest)).toEqual([sbom.digest]);
  });

  it('a destination with the API indexes the subject itself: no index tag is written there', async () => {
    const repo = 'api/dest';
    const image = await imageAt(plainSrc.url, repo, 'v1');
    const sbom = await pushArtifact(plainSrc.url, repo, image, { artifactType: SBOM, maintainIndex: true });
    const cfg = config({ destinations: [{ registry: 'apidst' }] });
    await run(cfg, { registry: 'src', repository: repo, reference: 'v1' }, { registry: 'apidst', repository: repo });
    expect(await headDigest(apiDst.url, repo, sbom.digest)).toBe(sbom.digest);
    expect(await headDigest(apiDst.url, repo, image.digest.replace(':', '-'))).toBeUndefined();
    const listed = await fetch(`${apiDst.url}/v2/${repo}/referrers/${image.digest}?artifactType=${encodeURIComponent(SBOM)}`);
    expect(((await listed.json()) as { manifests: Descriptor[] }).manifests.map((d) => d.digest)).toEqual([sbom.digest]);
  });
});

describe('the destination index under concurrent jobs', () => {
  it('read-modify-write from four writers at once converges on every entry', async () => {
    const repo = 'team/race';
    const image = await imageAt(plainDst.url, repo, 'v1');
    const dst = clientsFor(config()).get('dst')!;
    // Distribution checks that an index's entries exist: four real artifacts, not yet indexed.
    const entries = await Promise.all(Array.from({ length: 4 }, async () => (await pushArtifact(plainDst.url, repo, image, { artifactType: SBOM, maintainIndex: false })).descriptor));
    await Promise.all(entries.map((e) => mergeFallbackIndex({ client: dst, repository: repo }, image.digest, [e])));
    expect((await referrersIndex(plainDst.url, repo, image.digest)).map((d) => d.digest).sort()).toEqual(entries.map((e) => e.digest).sort());
  });
});
