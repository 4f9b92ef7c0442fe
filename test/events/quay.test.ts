// Quay notifications: repo_push (one push per updated tag); build and vulnerability
// notifications ignored.
import { describe, expect, it } from 'vitest';
import { parseQuay } from '../../shared/events/quay.js';
import { LONG_TAG, REMOVE, expectPayloadError, ignoredReasons, mutated, parseFixture, summaries, truncated } from './helpers.js';

const parse = (name: string) => parseFixture(parseQuay, 'quay', name);

describe('Quay repo_push', () => {
  it('gives one push per updated tag of `repository`, without digest', () => {
    const result = parse('repo-push');
    expect(summaries(result)).toEqual(['push acme/app:v1', 'push acme/app:latest']);
    expect(result.events.every((e) => e.digest === undefined)).toBe(true);
    expect(result.events[0]!.id).not.toBe(result.events[1]!.id);
    expect(result.events.map((e) => e.id)).toEqual(parse('repo-push').events.map((e) => e.id));
  });

  it('an empty updated_tags list gives no events', () => {
    expect(parseQuay(mutated('quay', 'repo-push', { updated_tags: [] }))).toEqual({ events: [], ignored: [] });
  });

  it('build and vulnerability notifications are ignored', () => {
    expect(ignoredReasons(parse('build-success'))).toEqual({ 'quay build notification': 1 });
    expect(ignoredReasons(parse('vulnerability-found'))).toEqual({ 'quay vulnerability_found notification': 1 });
  });
});

describe('malformed Quay bodies are PayloadErrors naming the field', () => {
  const push = (changes: Parameters<typeof mutated>[2]) => mutated('quay', 'repo-push', changes);
  it.each([
    ['truncated JSON', truncated('quay', 'repo-push'), /quay payload: body is not valid JSON/],
    ['updated_tags that is a string', push({ updated_tags: 'v1' }), /quay payload: updated_tags: expected array/],
    ['a tag that is a number', push({ updated_tags: ['v1', 2] }), /updated_tags\[1\]: expected string/],
    ['no repository', push({ repository: REMOVE }), /quay payload: repository: is missing/],
    ['".." in the repository', push({ repository: 'acme/../../app' }), /quay payload: repository: .*OCI name grammar/],
    ['a 900-character tag', push({ updated_tags: ['v1', LONG_TAG] }), /updated_tags\[1\]: tag is 900 characters/],
    ['a digest among the tags', push({ updated_tags: ['sha256:1'] }), /updated_tags\[0\]: "sha256:1" is a digest, not a tag/],
  ])('%s', (_name, request, message) => {
    expectPayloadError(parseQuay, request, message);
  });
});
