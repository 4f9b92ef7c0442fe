import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../shared/config/load.js';
import type { NormalizedEvent } from '../../shared/events/types.js';
import { planJobs, UNTAGGED_MANIFEST_REASON } from '../../shared/policy/plan.js';

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

describe('the multi-arch rule: one job for the index, none per child', () => {
  // The captured requests of `skopeo copy --all` of a two-platform image into Distribution 2.8.2:
  // one POST per event: blobs, child manifests by digest (no tag), then the index with tag v1.
  const capture = JSON.parse(readFileSync(new URL('../fixtures/distribution/push-multi-arch.json', import.meta.url), 'utf8')) as Array<{
    json: { events: Array<{ id: string; action: string; timestamp: string; target: { mediaType: string; repository: string; digest: string; tag?: string } }> };
  }>;
  // Only manifest events reach planning: the parser drops blob pushes (application/octet-stream).
  const manifestEvents: NormalizedEvent[] = capture.flatMap((req) => req.json.events)
    .filter((e) => e.target.mediaType !== 'application/octet-stream')
    .map((e) => ({ id: e.id, action: 'push' as const, repository: e.target.repository, digest: e.target.digest, mediaType: e.target.mediaType, occurredAt: e.timestamp, ...(e.target.tag ? { tag: e.target.tag } : {}) }));

  it('the capture holds two untagged child manifests and one tagged index', () => {
    expect(manifestEvents.map((e) => [e.mediaType, e.tag])).toEqual([
      ['application/vnd.oci.image.manifest.v1+json', undefined],
      ['application/vnd.oci.image.manifest.v1+json', undefined],
      ['application/vnd.oci.image.index.v1+json', 'v1'],
    ]);
  });

  it('planned request by request (as they arrive), only the index makes jobs', () => {
    const perRequest = manifestEvents.map((e) => planJobs(config, 'src', [e]));
    expect(perRequest[0]!.specs).toEqual([]);
    expect(perRequest[0]!.ignored[0]!.reason).toBe(UNTAGGED_MANIFEST_REASON);
    expect(perRequest[1]!.specs).toEqual([]);
    const indexSpecs = perRequest[2]!.specs;
    expect(indexSpecs.map((s) => `${s.destination.registry}/${s.destination.repository}:${s.source.reference}`)).toEqual(['dr/mirror/team/multi:v1', 'archive/team/multi:v1']);
  });

  it('a digest-only push without a reported media type still follows its repository', () => {
    const { specs } = planJobs(config, 'src', [event({ repository: 'team/app', digest: DIGEST })]);
    expect(specs.map((s) => s.source.reference)).toEqual([DIGEST, DIGEST, DIGEST]);
  });

  it('deletes by digest are not subject to the rule', () => {
    const { specs } = planJobs(config, 'src', [event({ action: 'delete', digest: DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json' })]);
    expect(specs).toHaveLength(2);
  });
});
