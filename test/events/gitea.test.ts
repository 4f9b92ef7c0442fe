// Gitea and Forgejo package webhooks.
import { describe, expect, it } from 'vitest';
import { parseGitea } from '../../shared/events/gitea.js';
import {
  BAD_DIGEST, LONG_TAG, REMOVE, expectPayloadError, ignoredReasons, mutated, parseFixture, summaries, truncated, withHeaders,
} from './helpers.js';

const parse = (name: string) => parseFixture(parseGitea, 'gitea', name);

describe('Gitea / Forgejo package events', () => {
  it('created gives a push of <owner>/<name>:<version>, lower-cased, with the delivery id', () => {
    expect(parse('package-created')).toEqual({
      events: [{ id: 'd5c1a3b8-0e5f-4b1a-9b7e-3f1c2a4d5e61', action: 'push', repository: 'acme/app', tag: 'v1', occurredAt: '2026-11-28T07:01:02.000Z' }],
      ignored: [],
    });
  });

  it('a version that is a digest is a digest-only push', () => {
    expect(summaries(parse('package-created-digest'))).toEqual(['push acme/app@sha256:a2dacb1f']);
  });

  it('deleted gives a delete', () => {
    expect(summaries(parse('package-deleted'))).toEqual(['delete acme/app:v1']);
  });

  it('Forgejo sends X-Forgejo-Event, and is parsed the same', () => {
    const result = parse('forgejo-package-created');
    expect(summaries(result)).toEqual(['push acme/app:v2']);
    expect(result.events[0]!.id).toBe('d5c1a3b8-0e5f-4b1a-9b7e-3f1c2a4d5e64');
    const forgejoOnly = withHeaders('gitea', 'forgejo-package-created', { 'x-gitea-event': undefined });
    expect(summaries(parseGitea(forgejoOnly))).toEqual(['push acme/app:v2']);
  });

  it('other events, other package types and other actions are ignored', () => {
    expect(ignoredReasons(parse('push-event'))).toEqual({ 'gitea push event': 1 });
    expect(ignoredReasons(parse('package-created-npm'))).toEqual({ 'gitea package type npm': 1 });
    expect(ignoredReasons(parseGitea(mutated('gitea', 'package-created', { action: 'updated' })))).toEqual({ 'gitea package updated': 1 });
  });
});

describe('malformed Gitea requests are PayloadErrors naming the field', () => {
  const created = (changes: Parameters<typeof mutated>[2]) => mutated('gitea', 'package-created', changes);
  it.each([
    ['truncated JSON', truncated('gitea', 'package-created'), /gitea payload: body is not valid JSON/],
    ['no event header', withHeaders('gitea', 'package-created', { 'x-gitea-event': undefined }), /X-Gitea-Event header: is missing/],
    ['package that is an array', created({ package: [] }), /gitea payload: package: expected object, received array/],
    ['version that is a number', created({ 'package.version': 1 }), /package\.version: expected string/],
    ['no owner (repository)', created({ 'package.owner': REMOVE }), /package\.owner\.login: is missing/],
    ['no name (repository)', created({ 'package.name': REMOVE }), /package\.name: is missing/],
    ['".." in the name', created({ 'package.name': '..' }), /package\.owner\.login\/name: .*OCI name grammar/],
    ['a 900-character version', created({ 'package.version': LONG_TAG }), /package\.version: tag is 900 characters/],
    ['a bad digest version', created({ 'package.version': BAD_DIGEST }), /package\.version: digest .* is not a valid/],
    ['no version', created({ 'package.version': REMOVE }), /package\.version: is missing/],
  ])('%s', (_name, request, message) => {
    expectPayloadError(parseGitea, request, message);
  });
});
