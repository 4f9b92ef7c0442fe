// Distribution notifications, driven by requests captured from a real Distribution 2.8.2
// registry (test/fixtures/distribution/*, copied verbatim) plus hand-written 3.x and ACR
// shapes.
import { describe, expect, it } from 'vitest';
import { isBlobTarget, parseDistribution } from '../../shared/events/distribution.js';
import { fixtureNames, loadFixture, readFixture } from '../fixtures/load.js';
import {
  BAD_DIGEST, LONG_TAG, REMOVE, expectPayloadError, ignoredReasons, mutated, parseFixture, summaries, truncated, withBody,
} from './helpers.js';

const parse = (name: string) => parseFixture(parseDistribution, 'distribution', name);
const CAPTURED = fixtureNames('distribution').filter((n) => !/^(v3-|acr-|envelope-|empty-|repository-named-)/.test(n));

describe('captured Distribution 2.8.2 requests', () => {
  it('every captured file is here, and every event in every request is either a result or ignored', () => {
    expect(CAPTURED).toHaveLength(20);
    for (const name of CAPTURED) {
      const sent = readFixture('distribution', name);
      loadFixture('distribution', name).forEach((request, i) => {
        const result = parseDistribution(request);
        const { events } = sent[i]!.json as { events: unknown[] };
        expect(result.events.length + result.ignored.length, `${name} #${i}`).toBe(events.length);
      });
    }
  });

  it('a single-arch push gives exactly one manifest push; its blob pushes are ignored', () => {
    const result = parse('push-single-arch');
    expect(summaries(result)).toEqual(['push team/app:v1@sha256:ad2f6c26']);
    expect(result.events[0]).toEqual({
      id: 'bfc3b195-cdcd-4c54-ae44-f26b6493eac2',
      action: 'push',
      repository: 'team/app',
      tag: 'v1',
      digest: 'sha256:ad2f6c2654719f9dfbdcdb39881784d72d86a2974de1d21d01a10cbff4881167',
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      occurredAt: '2026-11-28T06:48:54.414Z',
    });
    expect(ignoredReasons(result)).toEqual({ 'blob push': 4 });
  });

  it('a push of blobs the registry already has: the client HEAD checks are pulls, ignored', () => {
    const result = parse('push-single-arch-again');
    expect(summaries(result)).toEqual(['push team/app:v1@sha256:ad2f6c26']);
    expect(ignoredReasons(result)).toEqual({ 'pull (HEAD)': 4 });
  });

  it('a large push (5 x 20 MB layers) is still one manifest push', () => {
    const result = parse('push-big-5x20MB');
    expect(summaries(result)).toEqual(['push team/app:v1@sha256:4402b6d1']);
    expect(ignoredReasons(result)).toEqual({ 'blob push': 6 });
  });

  it('a multi-arch push gives the child manifests by digest, then the index with its tag', () => {
    const result = parse('push-multi-arch');
    expect(summaries(result)).toEqual([
      'push team/multi@sha256:a2dacb1f',
      'push team/multi@sha256:6b449628',
      'push team/multi:v1@sha256:0a9bee1a',
    ]);
    expect(result.events.map((e) => e.mediaType)).toEqual([
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.oci.image.index.v1+json',
    ]);
    expect(ignoredReasons(result)).toEqual({ 'blob push': 6 });
  });

  it('re-pushing under a second tag gives one push per tag', () => {
    const result = parse('repush-and-retag');
    expect(summaries(result)).toEqual(['push team/app:v1@sha256:ad2f6c26', 'push team/app:v1-retag@sha256:ad2f6c26']);
    expect(ignoredReasons(result)).toEqual({ 'pull (HEAD)': 8 });
  });

  it('a copy into another repository: pulls and cross-repository mounts are ignored, the manifest push counts', () => {
    const result = parse('cross-repo-mount-on-src');
    expect(summaries(result)).toEqual(['push other/app:v1@sha256:ad2f6c26']);
    expect(ignoredReasons(result)).toEqual({ pull: 2, 'pull (HEAD)': 3, mount: 3, 'blob push': 1 });
  });

  it('pulls of every kind (GET, HEAD, multi-arch, by digest) give no events', () => {
    for (const name of ['pull-curl-get-manifest-by-digest', 'pull-curl-head-manifest', 'pull-multi-arch', 'pull-skopeo-copy', 'pull-skopeo-inspect']) {
      const result = parse(name);
      expect(result.events, name).toEqual([]);
      expect(result.ignored.length, name).toBeGreaterThan(0);
      for (const ignored of result.ignored) expect(ignored.reason, name).toMatch(/^pull/);
    }
    expect(ignoredReasons(parse('pull-curl-head-manifest'))).toEqual({ 'pull (HEAD)': 1 });
  });

  it('deleting a manifest by digest gives the digest delete and one tag delete per tag that pointed at it', () => {
    expect(summaries(parse('delete-skopeo-by-digest'))).toEqual(['delete team/app@sha256:ad2f6c26', 'delete team/app:v1']);
    expect(summaries(parse('delete-skopeo-by-tag'))).toEqual([
      'delete team/app@sha256:ad2f6c26', 'delete team/app:v1', 'delete team/app:v1-retag',
    ]);
    expect(summaries(parse('delete-multi-index-by-digest'))).toEqual(['delete team/multi@sha256:0a9bee1a', 'delete team/multi:v1']);
    const tagDelete = parse('delete-skopeo-by-digest').events[1]!;
    expect(tagDelete.digest).toBeUndefined();
    expect(tagDelete.mediaType).toBeUndefined();
  });

  it('a blob delete looks like a manifest delete and becomes a digest delete (the worker finds no manifest: harmless)', () => {
    expect(summaries(parse('delete-blob-api'))).toEqual(['delete team/app@sha256:bbf4352a']);
  });

  it('Distribution 2.x rejects deletes by tag, so that capture holds no requests at all', () => {
    expect(readFixture('distribution', 'delete-curl-by-tag')).toEqual([]);
  });

  it('a registry that filters blobs and pulls itself sends only the manifest push and the deletes', () => {
    const result = parse('filtered-ignore-blobs-and-pulls');
    expect(summaries(result)).toEqual(['push team/app:v1@sha256:ad2f6c26', 'delete team/app@sha256:ad2f6c26', 'delete team/app:v1']);
    expect(result.ignored).toEqual([]);
  });

  it('retried deliveries keep the sender event id, so duplicates are recognisable', () => {
    const result = parse('retry-500-then-200');
    expect(summaries(result)).toEqual(['push team/tiny:t1@sha256:282e5601']);
    const blobIds = result.ignored.map((i) => i.id);
    expect(blobIds).toHaveLength(12);
    expect(new Set(blobIds).size).toBe(2);
    expect(parse('retry-401-then-registry-restart').events).toEqual([]);
  });

  it('events from a registry with htpasswd auth parse the same', () => {
    const result = parse('htpasswd-registry-events');
    expect(summaries(result)).toEqual(['push team/app:v1@sha256:ad2f6c26']);
    expect(ignoredReasons(result)).toEqual({ pull: 7, 'blob push': 4 });
  });
});

describe('Distribution 3.x (events.v2+json, empty fields as "" and 0)', () => {
  it('a blob push is ignored and a manifest push gives the event', () => {
    const result = parse('v3-push-blob-then-manifest');
    expect(summaries(result)).toEqual(['push team/app:v2@sha256:ad2f6c26']);
    expect(ignoredReasons(result)).toEqual({ 'blob push': 1 });
  });

  it('a manifest delete has digest but tag ""; a tag delete has tag but digest "": neither empty field is used', () => {
    const result = parse('v3-delete-manifest-and-tag');
    expect(result.events.map(({ action, repository, tag, digest }) => ({ action, repository, tag, digest }))).toEqual([
      { action: 'delete', repository: 'team/app', tag: undefined, digest: 'sha256:ad2f6c2654719f9dfbdcdb39881784d72d86a2974de1d21d01a10cbff4881167' },
      { action: 'delete', repository: 'team/app', tag: 'v2', digest: undefined },
    ]);
    expect(summaries(parse('v3-delete-by-tag'))).toEqual(['delete team/app:old']);
  });

  it('an artifact manifest with a media type ferry does not know is still a manifest push', () => {
    const result = parse('v3-push-artifact-manifest');
    expect(summaries(result)).toEqual(['push team/app:sbom-1@sha256:6b449628']);
    expect(result.events[0]!.mediaType).toBe('application/vnd.example.sbom.manifest.v1+json');
  });

  it('a Docker manifest list push is a manifest push', () => {
    expect(summaries(parse('v3-docker-manifest-list-push'))).toEqual(['push library/busybox:1.36@sha256:0a9bee1a']);
  });
});

describe('envelopes and ACR', () => {
  it('an envelope with several unrelated events gives each its own result, in order', () => {
    const result = parse('envelope-mixed-batch');
    expect(summaries(result)).toEqual(['push team/api:1.0.0@sha256:a2dacb1f', 'push team/web@sha256:6b449628']);
    expect(result.ignored).toEqual([
      { reason: 'pull', id: '7a9a0e8e-5d1e-4c0f-8d5e-000000000001' },
      { reason: 'unknown action "replicate"', id: '7a9a0e8e-5d1e-4c0f-8d5e-000000000004' },
    ]);
  });

  it('an empty batch gives zero events and nothing ignored', () => {
    expect(parse('empty-batch')).toEqual({ events: [], ignored: [] });
  });

  it('ACR sends one bare event without an envelope', () => {
    expect(summaries(parse('acr-push'))).toEqual(['push hello-world:v1@sha256:a2dacb1f']);
    expect(parse('acr-push').events[0]!.id).toBe('cb8c3971-9adc-488b-bdd8-43cbb4974ff5');
    expect(summaries(parse('acr-delete'))).toEqual(['delete hello-world@sha256:a2dacb1f']);
    expect(ignoredReasons(parse('acr-chart-push'))).toEqual({ 'unknown action "chart_push"': 1 });
  });

  it('a repository named "blobs" is not mistaken for a blob: only the URL ending decides', () => {
    expect(summaries(parse('repository-named-blobs'))).toEqual(['push store/blobs:v1@sha256:ad2f6c26']);
  });

  it('events without an id get a stable id from the body and their position', () => {
    const request = mutated('distribution', 'envelope-mixed-batch', { 'events.1.id': REMOVE, 'events.2.id': REMOVE });
    const first = parseDistribution(request).events.map((e) => e.id);
    const again = parseDistribution(request).events.map((e) => e.id);
    expect(first).toEqual(again);
    expect(first[0]).toMatch(/^[a-f0-9]{64}$/);
    expect(first[0]).not.toBe(first[1]);
  });

  it('an event without a timestamp happened when it was received', () => {
    const before = Date.now();
    const event = parseDistribution(mutated('distribution', 'push-single-arch', { 'events.0.timestamp': REMOVE }, 4)).events[0];
    expect(event).toBeDefined();
    expect(Date.parse(event!.occurredAt)).toBeGreaterThanOrEqual(before - 1);
  });
});

describe('blob or manifest', () => {
  it('decides by the URL ending first, then by media type; no signal means manifest', () => {
    expect(isBlobTarget({ url: 'http://r/v2/a/blobs/sha256:1', mediaType: 'application/vnd.oci.image.manifest.v1+json' })).toBe(true);
    expect(isBlobTarget({ url: 'http://r/v2/blobs/manifests/v1', mediaType: 'application/octet-stream' })).toBe(false);
    expect(isBlobTarget({ mediaType: 'application/octet-stream' })).toBe(true);
    expect(isBlobTarget({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' })).toBe(true);
    expect(isBlobTarget({ mediaType: 'application/vnd.oci.image.config.v1+json' })).toBe(true);
    expect(isBlobTarget({ mediaType: 'application/vnd.cncf.helm.chart.manifest.v1+json' })).toBe(false);
    expect(isBlobTarget({ mediaType: '', url: '' })).toBe(false);
  });
});

describe('malformed Distribution bodies are PayloadErrors naming the field', () => {
  const push = (changes: Parameters<typeof mutated>[2]) => mutated('distribution', 'push-single-arch', changes, 4);
  it.each([
    ['truncated JSON', truncated('distribution', 'push-single-arch'), /not valid JSON/],
    ['an empty body', withBody('distribution', 'push-single-arch', ''), /body is empty/],
    ['a JSON array', withBody('distribution', 'push-single-arch', '[]'), /expected \{"events"/],
    ['events that is not an array', withBody('distribution', 'push-single-arch', '{"events":{}}'), /events: expected array/],
    ['an action that is not a string', push({ 'events.0.action': 7 }), /events\[0\]\.action: expected string, received number/],
    ['a target.tag that is a number', push({ 'events.0.target.tag': 1 }), /events\[0\]\.target\.tag: expected string/],
    ['a push without target', push({ 'events.0.target': REMOVE }), /events\[0\]\.target: is missing/],
    ['a push without repository', push({ 'events.0.target.repository': REMOVE }), /events\[0\]\.target\.repository: is missing/],
    ['".." in the repository', push({ 'events.0.target.repository': 'team/../etc' }), /events\[0\]\.target\.repository: .*breaks the OCI name grammar/],
    ['an upper-case repository', push({ 'events.0.target.repository': 'Team/App' }), /target\.repository: .*OCI name grammar/],
    ['a 900-character tag', push({ 'events.0.target.tag': LONG_TAG }), /events\[0\]\.target\.tag: tag is 900 characters \(max 128\)/],
    ['a bad digest', push({ 'events.0.target.digest': BAD_DIGEST }), /events\[0\]\.target\.digest: digest "sha256:not-a-digest" is not a valid/],
    ['a manifest push with neither tag nor digest', push({ 'events.0.target.tag': REMOVE, 'events.0.target.digest': REMOVE }), /neither a digest nor a tag/],
    ['a delete without repository', mutated('distribution', 'delete-skopeo-by-digest', { 'events.0.target.repository': REMOVE }, 1), /events\[0\]\.target\.repository: is missing/],
    ['a bad timestamp', push({ 'events.0.timestamp': 'yesterday' }), /events\[0\]\.timestamp: "yesterday" is not a timestamp/],
    ['a bare event with a bad tag', mutated('distribution', 'acr-push', { 'target.tag': '-bad' }), /^distribution payload: target\.tag: tag "-bad" breaks/],
  ])('%s', (_name, request, message) => {
    expectPayloadError(parseDistribution, request, message);
  });
});
