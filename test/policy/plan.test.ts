import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../shared/config/load.js';
import type { NormalizedEvent } from '../../shared/events/types.js';
import { DIGEST_PUSH_DELAY_ENV, DIGEST_PUSH_DELAY_SECONDS, digestPushDelayFromEnv, planJobs, planReason } from '../../shared/policy/plan.js';

const config = parseConfigText(`
registries:
  src: { url: https://src.example.com, webhook: { secret: s } }
  other: { url: https://other.example.com, webhook: { secret: s } }
  dr: { url: https://dr.example.com }
  archive: { url: https://archive.example.com }
policies:
  - name: team-mirror
    source: src
    repositories: ["team/**", "!team/scratch/**"]
    tags: ["v*", "latest", "!*-rc*"]
    deletes: true
    destinations:
      - registry: dr
        repository: "mirror/{repository}"
      - registry: archive
  - name: keep-forever
    source: src
    repositories: ["team/app"]
    destinations:
      - registry: archive
        repository: "forever/{name}"
`, 'ferry.yaml', {});

const DIGEST = `sha256:${'a'.repeat(64)}`;
let n = 0;
function event(partial: Partial<NormalizedEvent>): NormalizedEvent {
  n += 1;
  return { id: `ev-${n}`, action: 'push', repository: 'team/app', occurredAt: '2026-11-28T06:00:00Z', ...partial };
}

describe('planJobs', () => {
  it('makes one spec per matching policy and destination, reference = tag', () => {
    const { specs, ignored } = planJobs(config, 'src', [event({ tag: 'v1', digest: DIGEST })]);
    expect(ignored).toEqual([]);
    expect(specs.map(({ event: _e, ...s }) => s)).toEqual([
      { policy: 'team-mirror', source: { registry: 'src', repository: 'team/app', reference: 'v1', digest: DIGEST }, destination: { registry: 'dr', repository: 'mirror/team/app' } },
      { policy: 'team-mirror', source: { registry: 'src', repository: 'team/app', reference: 'v1', digest: DIGEST }, destination: { registry: 'archive', repository: 'team/app' } },
      { policy: 'keep-forever', source: { registry: 'src', repository: 'team/app', reference: 'v1', digest: DIGEST }, destination: { registry: 'archive', repository: 'forever/app' } },
    ]);
  });

  it('only looks at policies whose source is the posting registry', () => {
    const { specs, ignored } = planJobs(config, 'other', [event({ tag: 'v1' })]);
    expect(specs).toEqual([]);
    expect(ignored).toEqual([{ id: expect.any(String), reason: 'no policy has source other' }]);
  });

  it('ignores repositories no policy covers, and excluded ones, with the reason', () => {
    const { specs, ignored } = planJobs(config, 'src', [event({ repository: 'ops/tool', tag: 'v1' }), event({ repository: 'team/scratch/x', tag: 'v1' })]);
    expect(specs).toEqual([]);
    expect(ignored.map((i) => i.reason)).toEqual([
      'push ops/tool:v1: repository ops/tool matches no policy of src',
      'push team/scratch/x:v1: repository team/scratch/x matches no policy of src',
    ]);
  });

  it('filters tags per policy', () => {
    const rc = planJobs(config, 'src', [event({ tag: 'v2-rc1' })]);
    // team-mirror excludes *-rc*; keep-forever takes every tag of team/app.
    expect(rc.specs.map((s) => s.policy)).toEqual(['keep-forever']);
    const other = planJobs(config, 'src', [event({ repository: 'team/web', tag: 'nightly' })]);
    expect(other.specs).toEqual([]);
    expect(other.ignored[0]!.reason).toBe('push team/web:nightly: tag nightly filtered out by policy team-mirror');
  });

  it('digest-only events follow their repository: no tag filter applies', () => {
    const index = 'application/vnd.oci.image.index.v1+json';
    const { specs } = planJobs(config, 'src', [event({ repository: 'team/web', digest: DIGEST, mediaType: index })]);
    expect(specs.map((s) => [s.policy, s.source.reference])).toEqual([['team-mirror', DIGEST], ['team-mirror', DIGEST]]);
  });

  it('deletes make jobs only for policies with deletes: true', () => {
    const { specs, ignored } = planJobs(config, 'src', [event({ action: 'delete', digest: DIGEST }), event({ action: 'delete', tag: 'v1' })]);
    expect(specs.map((s) => `${s.policy} ${s.destination.registry} ${s.source.reference}`)).toEqual([
      `team-mirror dr ${DIGEST}`, `team-mirror archive ${DIGEST}`, 'team-mirror dr v1', 'team-mirror archive v1',
    ]);
    expect(ignored).toEqual([]);
    const none = planJobs(config, 'src', [event({ action: 'delete', repository: 'team/app', tag: 'v2-rc1' })]);
    expect(none.specs).toEqual([]);
    expect(none.ignored[0]!.reason).toBe('delete team/app:v2-rc1: tag v2-rc1 filtered out by policy team-mirror; delete not propagated (policy keep-forever has deletes: false)');
  });

  it('keeps one spec per job key within a batch', () => {
    const first = event({ tag: 'latest' });
    const again = event({ tag: 'latest' });
    const { specs, ignored } = planJobs(config, 'src', [first, again]);
    expect(specs).toHaveLength(3);
    expect(specs.every((s) => s.event === first)).toBe(true);
    expect(ignored).toEqual([{ id: again.id, reason: 'push team/app:latest: duplicate of an earlier event in this request' }]);
  });

  it('reports destinations whose rendered name is invalid instead of failing the batch', () => {
    const longName = `team/${'x'.repeat(245)}`;
    const { specs, ignored } = planJobs(config, 'src', [event({ repository: longName, tag: 'v1' })]);
    // "mirror/" pushes it over 255 characters; the archive destination ("{repository}") still works.
    expect(specs.map((s) => s.destination.registry)).toEqual(['archive']);
    expect(ignored).toEqual([]);
  });
});

describe('the multi-arch rule: the index runs now, untagged single-platform manifests after a delay', () => {
  // The captured requests of `skopeo copy --all` of a two-platform image into Distribution 2.8.2:
  // one POST per event: blobs, child manifests by digest (no tag), then the index with tag v1.
  const capture = JSON.parse(readFileSync(new URL('../fixtures/distribution/push-multi-arch.json', import.meta.url), 'utf8')) as Array<{
    json: { events: Array<{ id: string; action: string; timestamp: string; target: { mediaType: string; repository: string; digest: string; tag?: string } }> };
  }>;
  // Only manifest events reach planning: the parser drops blob pushes (application/octet-stream).
  const manifestEvents: NormalizedEvent[] = capture.flatMap((req) => req.json.events)
    .filter((e) => e.target.mediaType !== 'application/octet-stream')
    .map((e) => ({ id: e.id, action: 'push' as const, repository: e.target.repository, digest: e.target.digest, mediaType: e.target.mediaType, occurredAt: e.timestamp, ...(e.target.tag ? { tag: e.target.tag } : {}) }));
  const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
  const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

  it('the capture holds two untagged child manifests and one tagged index', () => {
    expect(manifestEvents.map((e) => [e.mediaType, e.tag])).toEqual([
      [OCI_MANIFEST, undefined],
      [OCI_MANIFEST, undefined],
      ['application/vnd.oci.image.index.v1+json', 'v1'],
    ]);
  });

  it('planned request by request (as they arrive): each child is planned with the default delay, the index without', () => {
    const perRequest = manifestEvents.map((e) => planJobs(config, 'src', [e]));
    expect(DIGEST_PUSH_DELAY_SECONDS).toBe(30);
    for (const [i, child] of [perRequest[0]!, perRequest[1]!].entries()) {
      expect(child.ignored).toEqual([]);
      expect(child.specs.map((s) => [`${s.destination.registry}/${s.destination.repository}@${s.source.reference}`, s.delaySeconds])).toEqual([
        [`dr/mirror/team/multi@${manifestEvents[i]!.digest}`, 30],
        [`archive/team/multi@${manifestEvents[i]!.digest}`, 30],
      ]);
      expect(planReason(child.specs[0]!)).toMatch(/^push team\/multi@sha256:[0-9a-f]{64}; runs in 30 s \(/);
    }
    const indexSpecs = perRequest[2]!.specs;
    expect(indexSpecs.map((s) => `${s.destination.registry}/${s.destination.repository}:${s.source.reference}`)).toEqual(['dr/mirror/team/multi:v1', 'archive/team/multi:v1']);
    expect(indexSpecs.every((s) => s.delaySeconds === undefined)).toBe(true);
    expect(planReason(indexSpecs[0]!)).toBe('push team/multi:v1');
  });

  it('a digest-only single-platform push follows its repository like any digest-only event (no tag filter), deferred', () => {
    for (const mediaType of [OCI_MANIFEST, DOCKER_MANIFEST]) {
      const { specs, ignored } = planJobs(config, 'src', [event({ repository: 'team/web', digest: DIGEST, mediaType })]);
      expect(ignored).toEqual([]);
      expect(specs.map((s) => [s.policy, s.destination.registry, s.source.reference, s.delaySeconds])).toEqual([
        ['team-mirror', 'dr', DIGEST, 30], ['team-mirror', 'archive', DIGEST, 30],
      ]);
      expect(specs[0]!.source.digest).toBe(DIGEST);
    }
    // Repository rules still apply: an excluded repository makes nothing.
    const excluded = planJobs(config, 'src', [event({ repository: 'team/scratch/x', digest: DIGEST, mediaType: OCI_MANIFEST })]);
    expect(excluded.specs).toEqual([]);
    expect(excluded.ignored[0]!.reason).toBe(`push team/scratch/x@${DIGEST}: repository team/scratch/x matches no policy of src`);
  });

  it('the delay is an option: shorter for tests, 0 turns the deferral off', () => {
    const child = event({ digest: DIGEST, mediaType: OCI_MANIFEST });
    expect(planJobs(config, 'src', [child], { digestPushDelaySeconds: 1 }).specs.map((s) => s.delaySeconds)).toEqual([1, 1, 1]);
    expect(planJobs(config, 'src', [child], { digestPushDelaySeconds: 0 }).specs.map((s) => s.delaySeconds)).toEqual([undefined, undefined, undefined]);
    expect(() => planJobs(config, 'src', [child], { digestPushDelaySeconds: 901 })).toThrow(/between 0 and 900/);
    expect(() => planJobs(config, 'src', [child], { digestPushDelaySeconds: -1 })).toThrow(/between 0 and 900/);
  });

  it('reads the delay from the environment the hosts pass (FERRY_DIGEST_PUSH_DELAY)', () => {
    expect(DIGEST_PUSH_DELAY_ENV).toBe('FERRY_DIGEST_PUSH_DELAY');
    expect(digestPushDelayFromEnv({})).toBeUndefined();
    expect(digestPushDelayFromEnv({ FERRY_DIGEST_PUSH_DELAY: '' })).toBeUndefined();
    expect(digestPushDelayFromEnv({ FERRY_DIGEST_PUSH_DELAY: '1s' })).toBe(1);
    expect(digestPushDelayFromEnv({ FERRY_DIGEST_PUSH_DELAY: '500ms' })).toBe(0.5);
    expect(digestPushDelayFromEnv({ FERRY_DIGEST_PUSH_DELAY: '2m' })).toBe(120);
    expect(digestPushDelayFromEnv({ FERRY_DIGEST_PUSH_DELAY: '45' })).toBe(45);
    expect(digestPushDelayFromEnv({ FERRY_DIGEST_PUSH_DELAY: '0' })).toBe(0);
    expect(() => digestPushDelayFromEnv({ FERRY_DIGEST_PUSH_DELAY: 'soon' })).toThrow(/FERRY_DIGEST_PUSH_DELAY: use e\.g\. 30s/);
    expect(() => digestPushDelayFromEnv({ FERRY_DIGEST_PUSH_DELAY: '16m' })).toThrow(/between 0 and 900 seconds, got 960/);
  });

  it('a digest-only push of an index, or without a reported media type, is not deferred', () => {
    const index = planJobs(config, 'src', [event({ repository: 'team/app', digest: DIGEST, mediaType: 'application/vnd.oci.image.index.v1+json' })]);
    expect(index.specs.map((s) => s.delaySeconds)).toEqual([undefined, undefined, undefined]);
    const { specs } = planJobs(config, 'src', [event({ repository: 'team/app', digest: DIGEST })]);
    expect(specs.map((s) => [s.source.reference, s.delaySeconds])).toEqual([[DIGEST, undefined], [DIGEST, undefined], [DIGEST, undefined]]);
  });

  it('tagged pushes and deletes by digest are never deferred', () => {
    const tagged = planJobs(config, 'src', [event({ tag: 'v1', digest: DIGEST, mediaType: OCI_MANIFEST })]);
    expect(tagged.specs.map((s) => s.delaySeconds)).toEqual([undefined, undefined, undefined]);
    const { specs } = planJobs(config, 'src', [event({ action: 'delete', digest: DIGEST, mediaType: OCI_MANIFEST })]);
    expect(specs).toHaveLength(2);
    expect(specs.every((s) => s.delaySeconds === undefined)).toBe(true);
  });
});
