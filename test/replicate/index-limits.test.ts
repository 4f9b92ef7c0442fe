// Hostile indexes: one child listed thousands of times, a small two-level index that fans out
// to 10,000 manifests, nesting past the depth cap. The source is a hostile registry test
// server (no real registry serves such indexes on demand); the destination is a real
// Distribution behind a counting proxy, so the test sees every request the copy makes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../shared/registry/client.js';
import { copyImage, ManifestLimitError } from '../../shared/replicate/copy.js';
import { PermanentJobError } from '../../shared/replicate/errors.js';
import { classifyError } from '../../shared/jobs/classify.js';
import { ferryCli } from '../e2e/ferry-process.js';
import { startFaultProxy, type FaultProxy } from '../testbed/fault-proxy.js';
import { addSyntheticImage, OCI_INDEX, OCI_MANIFEST, startHostileRegistry, type HostileRegistry, type StoredManifest } from '../testbed/hostile-registry.js';
import { digestOf, inspectRaw } from '../testbed/images.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let hostile: HostileRegistry;
let dst: DistributionRegistry;
let proxy: FaultProxy;
const clients: RegistryClient[] = [];

function client(name: string, url: string): RegistryClient {
  const c = new RegistryClient({ name, url, insecure: true });
  clients.push(c);
  return c;
}

function index(children: StoredManifest[]): { mediaType: string; bytes: Buffer } {
  return {
    mediaType: OCI_INDEX,
    bytes: Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((c) => ({ mediaType: c.mediaType, digest: c.digest, size: c.bytes.length })),
    })),
  };
}

/** Image manifests sharing one config and layer, told apart by an annotation. */
function images(repository: string, count: number, prefix: string): StoredManifest[] {
  const base = addSyntheticImage(hostile, repository, undefined, [2_000]);
  return Array.from({ length: count }, (_, i) => hostile.addManifest(repository, {
    mediaType: OCI_MANIFEST,
    bytes: Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: base.config.digest, size: base.config.size },
      layers: base.layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
      annotations: { n: `${prefix}-${i}` },
    })),
  }));
}

function destinationPuts(): number {
  return proxy.count({ method: 'PUT', path: '/manifests/' });
}

beforeAll(async () => {
  hostile = await startHostileRegistry();
  dst = await startRegistry({ name: 'index-limits' });
  proxy = await startFaultProxy(dst.url);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await proxy?.stop();
  await hostile?.stop();
  await stopAllRegistries();
});

describe('index amplification', () => {
  it('copies a child listed 5,000 times once: one GET at the source, one PUT for it at the destination', async () => {
    const [child] = images('evil/repeat', 1, 'repeat');
    const root = hostile.addManifest('evil/repeat', index(Array.from({ length: 5000 }, () => child!)), 'v1');
    proxy.reset();
    const result = await copyImage({
      source: { client: client('hostile', hostile.url), repository: 'evil/repeat', reference: 'v1' },
      destination: { client: client('dst', proxy.url), repository: 'mirror/repeat', tag: 'v1' },
      blobConcurrency: 4, override: true,
    });
    expect(result.digest).toBe(root.digest);
    expect(result.stats.manifests).toBe(2);
    expect(hostile.count('GET', `/manifests/${child!.digest}`)).toBe(1);
    expect(proxy.count({ method: 'HEAD', path: `/manifests/${child!.digest}` })).toBe(1);
    expect(destinationPuts()).toBe(2);
    expect(digestOf(await inspectRaw(`${dst.host}/mirror/repeat:v1`))).toBe(root.digest);
  });

  it('refuses a 100 x 100 two-level index (10,101 manifests) before writing anything, as a permanent error', async () => {
    const children = Array.from({ length: 100 }, (_, i) => hostile.addManifest('evil/fan', index(images('evil/fan', 100, `fan${i}`))));
    const root = hostile.addManifest('evil/fan', index(children), 'v1');
    expect(root.bytes.length).toBeLessThan(20_000);
    proxy.reset();
    const error = await copyImage({
      source: { client: client('hostile', hostile.url), repository: 'evil/fan', reference: 'v1' },
      destination: { client: client('dst', proxy.url), repository: 'mirror/fan', tag: 'v1' },
      blobConcurrency: 4, override: true,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestLimitError);
    expect(error).toBeInstanceOf(PermanentJobError);
    expect((error as Error).message).toMatch(/more than 1000 distinct manifests \(worker\.maxManifests\)/);
    expect(classifyError(error).error).toMatchObject({ code: 'PERMANENT', transient: false });
    expect(destinationPuts()).toBe(0);
    expect(proxy.count({ method: 'POST' }) + proxy.count({ method: 'PATCH' })).toBe(0);
    // Reads stop at the cap: at most the 1,000 manifests it allows, plus what was in flight.
    expect(hostile.count('GET', '/manifests/sha256:')).toBeLessThan(1100);
  });

  it('copies an index nested exactly maxIndexDepth levels deep and refuses one level more', async () => {
    const [leaf] = images('evil/deep', 1, 'deep');
    let top: StoredManifest = leaf!;
    const levels: StoredManifest[] = [];
    for (let i = 0; i < 3; i++) {
      top = hostile.addManifest('evil/deep', index([top]));
      levels.push(top);
    }
    // The tag's index is level 0; the leaf image sits at level 3, then 4 with one more wrapper.
    hostile.addManifest('evil/deep', index([levels[2]!]), 'ok');
    const tooDeep = hostile.addManifest('evil/deep', index([hostile.addManifest('evil/deep', index([levels[2]!]))]), 'deep');
    const copy = (tag: string) => copyImage({
      source: { client: client('hostile', hostile.url), repository: 'evil/deep', reference: tag },
      destination: { client: client('dst', proxy.url), repository: `mirror/deep-${tag}`, tag },
      blobConcurrency: 4, override: true, limits: { maxIndexDepth: 4, maxManifests: 1000 },
    });
    proxy.reset();
    const error = await copy('deep').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestLimitError);
    expect((error as Error).message).toMatch(/index evil\/deep@sha256:[a-f0-9]{64} at hostile nests indexes more than 4 levels deep \(worker\.maxIndexDepth\)/);
    expect(tooDeep.digest).toMatch(/^sha256:/);
    expect(destinationPuts()).toBe(0);

    const ok = await copy('ok');
    expect(ok.stats.manifests).toBe(5);
  });

  it('ferry copy reports the refused fan-out on one line, exit 1, nothing written', async () => {
    proxy.reset();
    const run = await ferryCli(['copy', '--insecure', `${hostile.host}/evil/fan:v1`, `${proxy.host}/mirror/fan-cli:v1`], { env: { FERRY_DEBUG: '' } });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^ferry: index evil\/fan@sha256:[a-f0-9]{64} at .* leads to more than 1000 distinct manifests \(worker\.maxManifests\); not copied/);
    expect(destinationPuts()).toBe(0);
  });
});
