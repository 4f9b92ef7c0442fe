// Image references as people type them, read the way docker and skopeo read them. Pure.
import { describe, expect, it } from 'vitest';
import { normalizeDockerReference, parseImageReference, ReferenceSyntaxError } from '../../shared/oci/grammar.js';

describe('Docker reference normalisation', () => {
  it.each([
    ['alpine:3.19', 'registry-1.docker.io/library/alpine:3.19'],
    ['alpine', 'registry-1.docker.io/library/alpine'],
    ['library/alpine', 'registry-1.docker.io/library/alpine'],
    ['bitnami/redis:7', 'registry-1.docker.io/bitnami/redis:7'],
    ['docker.io/alpine', 'registry-1.docker.io/library/alpine'],
    ['docker.io/x/y', 'registry-1.docker.io/x/y'],
    ['index.docker.io/x/y:1', 'registry-1.docker.io/x/y:1'],
    ['docker://alpine@sha256:' + 'a'.repeat(64), 'registry-1.docker.io/library/alpine@sha256:' + 'a'.repeat(64)],
    ['a/b/c', 'registry-1.docker.io/a/b/c'],
    ['localhost/app', 'localhost/app'],
    ['localhost:5000/app:v1', 'localhost:5000/app:v1'],
    ['127.0.0.1:5000/team/app', '127.0.0.1:5000/team/app'],
    ['ghcr.io/org/app:v1', 'ghcr.io/org/app:v1'],
    ['docker://quay.io/org/app', 'quay.io/org/app'],
    // An upper-case first component is a host name to docker, never a Hub namespace.
    ['MyRegistry/app', 'MyRegistry/app'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeDockerReference(input)).toBe(expected);
  });

  it('parses the normalised form', () => {
    expect(parseImageReference('alpine:3.19')).toEqual({ host: 'registry-1.docker.io', repository: 'library/alpine', tag: '3.19' });
    expect(parseImageReference('docker.io/x/y')).toEqual({ host: 'registry-1.docker.io', repository: 'x/y', tag: 'latest' });
    expect(parseImageReference('127.0.0.1:5000/team/app@sha256:' + 'b'.repeat(64))).toEqual({ host: '127.0.0.1:5000', repository: 'team/app', digest: 'sha256:' + 'b'.repeat(64) });
  });

  it('still refuses what no registry could serve', () => {
    expect(() => parseImageReference('')).toThrow(ReferenceSyntaxError);
    expect(() => parseImageReference('Alpine')).toThrow(/invalid image reference "Alpine"/);
    expect(() => parseImageReference('alpine:bad tag')).toThrow(ReferenceSyntaxError);
    expect(() => parseImageReference('host:5000/app@sha256:zz')).toThrow(/bad digest/);
  });
});
