// Docker Hub repository webhooks: push only, tag only, callback_url never used.
import { describe, expect, it } from 'vitest';
import { parseDockerHub } from '../../shared/events/dockerhub.js';
import { readFixture } from '../fixtures/load.js';
import { LONG_TAG, REMOVE, expectPayloadError, mutated, parseFixture, truncated } from './helpers.js';

describe('Docker Hub push', () => {
  it('gives a push of repo_name with the tag and no digest, at pushed_at', () => {
    expect(parseFixture(parseDockerHub, 'dockerhub', 'push')).toEqual({
      events: [{ id: expect.stringMatching(/^[a-f0-9]{64}$/), action: 'push', repository: 'acme/app', tag: 'v1', occurredAt: '2026-11-28T07:01:02.000Z' }],
      ignored: [],
    });
  });

  it('takes nothing from callback_url: a hostile one changes nothing', () => {
    const result = parseDockerHub(mutated('dockerhub', 'push', { callback_url: 'http://169.254.169.254/latest/meta-data/' }));
    expect(JSON.stringify(result)).not.toContain('169.254');
    expect(result.events[0]!.repository).toBe('acme/app');
  });

  it('the fixture authenticates with ?token= (Hub cannot set headers)', () => {
    expect(readFixture('dockerhub', 'push')[0]!.url).toMatch(/\?token=/);
  });

  // Docker Hub sends nothing but pushes, so this kind has no ignorable event and no delete.
});

describe('malformed Docker Hub bodies are PayloadErrors naming the field', () => {
  const push = (changes: Parameters<typeof mutated>[2]) => mutated('dockerhub', 'push', changes);
  it.each([
    ['truncated JSON', truncated('dockerhub', 'push'), /dockerhub payload: body is not valid JSON/],
    ['push_data missing', push({ push_data: REMOVE }), /dockerhub payload: push_data: is missing/],
    ['pushed_at that is a string', push({ 'push_data.pushed_at': 'yesterday' }), /push_data\.pushed_at: expected number/],
    ['a tag that is a number', push({ 'push_data.tag': 1 }), /push_data\.tag: expected string/],
    ['no tag', push({ 'push_data.tag': REMOVE }), /push_data\.tag: is missing/],
    ['no repository name', push({ 'repository.repo_name': REMOVE, 'repository.namespace': REMOVE }), /repository\.repo_name: is missing/],
    ['".." in repo_name', push({ 'repository.repo_name': 'acme/../app' }), /repository\.repo_name: .*OCI name grammar/],
    ['a 900-character tag', push({ 'push_data.tag': LONG_TAG }), /push_data\.tag: tag is 900 characters/],
    ['a digest in place of the tag', push({ 'push_data.tag': 'sha256:zz' }), /push_data\.tag: "sha256:zz" is a digest, not a tag/],
  ])('%s', (_name, request, message) => {
    expectPayloadError(parseDockerHub, request, message);
  });
});
