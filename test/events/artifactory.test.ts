// JFrog Artifactory webhooks, docker domain.
import { describe, expect, it } from 'vitest';
import { parseArtifactory } from '../../shared/events/artifactory.js';
import {
  LONG_TAG, REMOVE, expectPayloadError, ignoredReasons, mutated, parseFixture, summaries, truncated,
} from './helpers.js';

const parse = (name: string) => parseFixture(parseArtifactory, 'artifactory', name);
const parseSubdomain = (name: string) => parseFixture((r) => parseArtifactory(r, { artifactoryAccessMethod: 'subdomain' }), 'artifactory', name);

describe('Artifactory docker events', () => {
  it('pushed gives a push of <repo_key>/<image_name> (the path access method, the default) with the tag and sha256 as a digest', () => {
    const { events, ignored } = parse('pushed');
    expect(ignored).toEqual([]);
    expect(events).toEqual([{
      id: expect.stringMatching(/^[a-f0-9]{64}$/),
      action: 'push',
      repository: 'docker-local/team/app',
      tag: 'v1',
      digest: 'sha256:0a9bee1a9c502c5e124e72b25b15ed46d0ce7498fb648bb279133b7f6234b60c',
      occurredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    }]);
  });

  it('deleted gives a delete', () => {
    expect(summaries(parse('deleted'))).toEqual(['delete docker-local/team/app:v1@sha256:0a9bee1a']);
  });

  it('promoted (the image arrived in the watched repository) is a push', () => {
    expect(summaries(parse('promoted'))).toEqual(['push docker-prod/team/app:v1@sha256:ad2f6c26']);
  });

  it('a JFrog Cloud push (path access method) maps to the repository clients pull', () => {
    expect(summaries(parse('pushed-cloud'))).toEqual(['push acme-docker/platform/api:2.4.1@sha256:5c3b1f0e']);
  });

  it('accessMethod subdomain keeps image_name alone (the repository key is in the host)', () => {
    expect(summaries(parseSubdomain('pushed'))).toEqual(['push team/app:v1@sha256:0a9bee1a']);
    expect(summaries(parseSubdomain('deleted'))).toEqual(['delete team/app:v1@sha256:0a9bee1a']);
    expect(summaries(parseSubdomain('pushed-cloud'))).toEqual(['push platform/api:2.4.1@sha256:5c3b1f0e']);
  });

  it('a sha256 that already has its prefix is accepted as is', () => {
    const request = mutated('artifactory', 'pushed', { 'data.sha256': 'sha256:0a9bee1a9c502c5e124e72b25b15ed46d0ce7498fb648bb279133b7f6234b60c' });
    expect(summaries(parseArtifactory(request))).toEqual(['push docker-local/team/app:v1@sha256:0a9bee1a']);
  });

  it('other domains and other docker event types are ignored', () => {
    expect(ignoredReasons(parse('artifact-deployed'))).toEqual({ 'artifactory artifact deployed': 1 });
    expect(ignoredReasons(parseArtifactory(mutated('artifactory', 'pushed', { event_type: 'moved' })))).toEqual({ 'artifactory docker moved': 1 });
  });
});

describe('malformed Artifactory bodies are PayloadErrors naming the field', () => {
  const pushed = (changes: Parameters<typeof mutated>[2]) => mutated('artifactory', 'pushed', changes);
  it.each([
    ['truncated JSON', truncated('artifactory', 'pushed'), /artifactory payload: body is not valid JSON/],
    ['domain missing', pushed({ domain: REMOVE }), /artifactory payload: domain: is missing/],
    ['size/tag of the wrong type', pushed({ 'data.tag': ['v1'] }), /data\.tag: expected string, received array/],
    ['no data', pushed({ data: REMOVE }), /artifactory payload: data: is missing/],
    ['no image_name (repository)', pushed({ 'data.image_name': REMOVE }), /data\.image_name: is missing/],
    ['no repo_key under the path access method', pushed({ 'data.repo_key': REMOVE }), /data\.repo_key: is missing \(registries\.<name>\.artifactory\.accessMethod is path\)/],
    ['".." in image_name', pushed({ 'data.image_name': 'team/../../app' }), /data\.image_name: .*OCI name grammar/],
    ['a 900-character tag', pushed({ 'data.tag': LONG_TAG }), /data\.tag: tag is 900 characters/],
    ['a bad sha256', pushed({ 'data.sha256': 'sample_checksum' }), /data\.sha256: digest "sha256:sample_checksum" is not a valid/],
    ['neither tag nor sha256', pushed({ 'data.tag': REMOVE, 'data.sha256': REMOVE }), /neither a tag nor a sha256/],
  ])('%s', (_name, request, message) => {
    expectPayloadError(parseArtifactory, request, message);
  });
});
