// Platform selection's choice, on manifest bytes as registries serve them (pure: no I/O).
import { describe, expect, it } from 'vitest';
import { computeDigest } from '../../shared/registry/digest.js';
import { PlatformSelectionError, selectPlatforms } from '../../shared/replicate/platforms.js';

const INDEX = 'application/vnd.oci.image.index.v1+json';
const child = (n: number, platform: Record<string, string>) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${String(n).repeat(64)}`, size: 500 + n, platform });
const manifests = [
  child(1, { os: 'linux', architecture: 'amd64' }),
  child(2, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
  child(3, { os: 'linux', architecture: 'arm', variant: 'v7' }),
  { ...child(4, { os: 'unknown', architecture: 'unknown' }), annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
];
const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests, annotations: { a: 'b' } }, null, 2));
const index = { digest: computeDigest(bytes), mediaType: INDEX, bytes };
const where = { registry: 'src', repository: 'team/app', reference: 'v1' };

describe('selectPlatforms', () => {
  it('one platform picks that child (arm64 with or without its v8 variant)', () => {
    expect(selectPlatforms(index, ['linux/arm64/v8'], where)).toEqual({ kind: 'one', child: manifests[1] });
    expect(selectPlatforms(index, ['linux/arm64'], where)).toEqual({ kind: 'one', child: manifests[1] });
  });

  it('several make a new index of just those children, in source order, annotations kept', () => {
    const selection = selectPlatforms(index, ['linux/arm/v7', 'linux/amd64'], where);
    expect(selection.kind).toBe('index');
    if (selection.kind !== 'index') return;
    const json = JSON.parse(selection.manifest.bytes.toString('utf8'));
    expect(json).toEqual({ schemaVersion: 2, mediaType: INDEX, manifests: [manifests[0], manifests[2]], annotations: { a: 'b' } });
    expect(selection.manifest.digest).toBe(computeDigest(selection.manifest.bytes));
    expect(selection.manifest.digest).not.toBe(index.digest);
  });

  it('a platform the index lacks is an error naming those it has', () => {
    expect(() => selectPlatforms(index, ['linux/amd64', 'linux/s390x'], where)).toThrow(PlatformSelectionError);
    expect(() => selectPlatforms(index, ['linux/s390x'], where)).toThrow('src/team/app:v1 has no platform linux/s390x (it has linux/amd64, linux/arm64/v8, linux/arm/v7)');
  });

  it('a single-platform image is copied as it is', () => {
    const image = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: child(5, {}), layers: [] }));
    expect(selectPlatforms({ digest: computeDigest(image), mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes: image }, ['linux/amd64'], where)).toEqual({ kind: 'all' });
  });
});
