// GitHub Packages (GHCR) registry_package webhooks.
import { describe, expect, it } from 'vitest';
import { parseGitHub } from '../../shared/events/github.js';
import {
  BAD_DIGEST, LONG_TAG, REMOVE, expectPayloadError, ignoredReasons, mutated, parseFixture, summaries, truncated, withHeaders,
} from './helpers.js';

const parse = (name: string) => parseFixture(parseGitHub, 'github', name);
const PV = 'registry_package.package_version';

describe('GitHub registry_package', () => {
  it('published gives a push of namespace/name lower-cased, with the tag, the digest and the delivery id', () => {
    expect(parse('registry-package-published')).toEqual({
      events: [{
        id: '6f8c2b80-cc40-11f0-8e2a-5d2c8f0e1a01',
        action: 'push',
        repository: 'acme-org/app',
        tag: 'v1',
        digest: 'sha256:0a9bee1a9c502c5e124e72b25b15ed46d0ce7498fb648bb279133b7f6234b60c',
        occurredAt: '2026-11-28T07:01:02.000Z',
      }],
      ignored: [],
    });
  });

  it('updated is a push too', () => {
    expect(summaries(parse('registry-package-updated'))).toEqual(['push acme-org/app:latest@sha256:0a9bee1a']);
  });

  it('an empty tag name is a digest-only push', () => {
    const { events } = parse('registry-package-published-untagged');
    expect(summaries({ events, ignored: [] })).toEqual(['push acme-org/app@sha256:a2dacb1f']);
    expect(events[0]!.tag).toBeUndefined();
  });

  it('the digest comes from the version name when container metadata has none', () => {
    const request = mutated('github', 'registry-package-published', { [`${PV}.container_metadata.tag.digest`]: REMOVE });
    expect(summaries(parseGitHub(request))).toEqual(['push acme-org/app:v1@sha256:0a9bee1a']);
  });

  it('other events (ping, package, ...) are ignored', () => {
    expect(parse('ping')).toEqual({ events: [], ignored: [{ reason: 'github ping event', id: '6f8c2b80-cc40-11f0-8e2a-5d2c8f0e1a04' }] });
    expect(ignoredReasons(parseGitHub(withHeaders('github', 'registry-package-published', { 'x-github-event': 'package' })))).toEqual({ 'github package event': 1 });
  });

  it('packages that are not containers, and other actions, are ignored', () => {
    expect(ignoredReasons(parse('registry-package-npm'))).toEqual({ 'github package type npm': 1 });
    expect(ignoredReasons(parseGitHub(mutated('github', 'registry-package-published', { action: 'deleted' })))).toEqual({ 'github registry_package deleted': 1 });
  });
});

describe('malformed GitHub requests are PayloadErrors naming the field', () => {
  const published = (changes: Parameters<typeof mutated>[2]) => mutated('github', 'registry-package-published', changes);
  it.each([
    ['truncated JSON', truncated('github', 'registry-package-published'), /github payload: body is not valid JSON/],
    ['no X-GitHub-Event header', withHeaders('github', 'registry-package-published', { 'x-github-event': undefined }), /X-GitHub-Event header: is missing/],
    ['action that is a number', published({ action: 3 }), /github payload: action: expected string/],
    ['package_version that is a string', published({ [PV]: 'v1' }), /registry_package\.package_version: expected object/],
    ['no registry_package', published({ registry_package: REMOVE }), /github payload: registry_package: is missing/],
    ['no namespace (repository)', published({ 'registry_package.namespace': REMOVE }), /registry_package\.namespace: is missing/],
    ['".." in the name', published({ 'registry_package.name': '../app' }), /registry_package\.namespace\/name: .*OCI name grammar/],
    ['a 900-character tag', published({ [`${PV}.container_metadata.tag.name`]: LONG_TAG }), /container_metadata\.tag\.name: tag is 900 characters/],
    ['a bad digest', published({ [`${PV}.container_metadata.tag.digest`]: BAD_DIGEST }), /container_metadata\.tag\.digest: digest .* is not a valid/],
    ['a bad digest as version name', published({ [`${PV}.container_metadata`]: null, [`${PV}.name`]: 'sha256:12' }), /package_version\.name: digest "sha256:12"/],
    ['neither tag nor digest', published({ [`${PV}.container_metadata`]: null, [`${PV}.name`]: 'v1', [`${PV}.version`]: 'v1' }), /package_version: has neither a digest nor a tag/],
  ])('%s', (_name, request, message) => {
    expectPayloadError(parseGitHub, request, message);
  });
});
