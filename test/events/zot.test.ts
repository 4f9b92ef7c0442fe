// zot: CloudEvents in binary mode (type/id/time in ce-* headers, the body is the data).
import { describe, expect, it } from 'vitest';
import { parseZot } from '../../shared/events/zot.js';
import { readFixture, toWebhookRequest } from '../fixtures/load.js';
import {
  BAD_DIGEST, LONG_TAG, REMOVE, expectPayloadError, ignoredReasons, mutated, parseFixture, summaries, truncated, withHeaders,
} from './helpers.js';

const parse = (name: string) => parseFixture(parseZot, 'zot', name);

describe('zot events', () => {
  it('image.updated gives a push with ce-id, ce-time and the media type', () => {
    expect(parse('image-updated')).toEqual({
      events: [{
        id: 'b7f3a8e2-1c4d-4e5f-9a0b-1c2d3e4f5a60',
        action: 'push',
        repository: 'team/app',
        tag: 'v1',
        digest: 'sha256:ad2f6c2654719f9dfbdcdb39881784d72d86a2974de1d21d01a10cbff4881167',
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        occurredAt: '2026-11-28T07:01:02.345Z',
      }],
      ignored: [],
    });
  });

  it('a reference that is a digest is a digest-only push', () => {
    expect(summaries(parse('image-updated-by-digest'))).toEqual(['push team/multi@sha256:a2dacb1f']);
  });

  it('image.deleted gives a delete', () => {
    const { events } = parse('image-deleted');
    expect(summaries({ events, ignored: [] })).toEqual(['delete team/app:v1@sha256:ad2f6c26']);
    expect(events[0]!.mediaType).toBeUndefined();
  });

  it('repository.created, lint failures and scans are ignored', () => {
    expect(parse('repository-created')).toEqual({
      events: [],
      ignored: [{ reason: 'zot zotregistry.repository.created', id: 'b7f3a8e2-1c4d-4e5f-9a0b-1c2d3e4f5a63' }],
    });
    expect(ignoredReasons(parse('image-lint-failed'))).toEqual({ 'zot zotregistry.image.lint_failed': 1 });
  });

  it('without ce-id, the id is a stable hash of the body', () => {
    const request = withHeaders('zot', 'image-updated', { 'ce-id': undefined });
    expect(parseZot(request).events[0]!.id).toBe(parseZot(request).events[0]!.id);
    expect(parseZot(request).events[0]!.id).toMatch(/^[a-f0-9]{64}$/);
  });

  it('a structured-mode CloudEvent is accepted too', () => {
    const [binary] = readFixture('zot', 'image-updated');
    const structured = toWebhookRequest({
      method: 'POST',
      url: '/webhooks/zot',
      headers: { 'content-type': 'application/cloudevents+json' },
      json: { specversion: '1.0', id: 'e1', source: 'zot', type: 'zotregistry.image.updated', time: '2026-11-28T07:01:02Z', data: binary!.json },
    });
    expect(summaries(parseZot(structured))).toEqual(['push team/app:v1@sha256:ad2f6c26']);
  });
});

describe('malformed zot requests are PayloadErrors naming the field', () => {
  const updated = (changes: Parameters<typeof mutated>[2]) => mutated('zot', 'image-updated', changes);
  it.each([
    ['truncated JSON', truncated('zot', 'image-updated'), /zot payload: body is not valid JSON/],
    ['no ce-type header and no structured event', withHeaders('zot', 'image-updated', { 'ce-type': undefined }), /ce-type header: is missing/],
    ['a name that is a number', updated({ name: 42 }), /zot payload: name: expected string, received number/],
    ['no name (repository)', updated({ name: REMOVE }), /zot payload: name: is missing/],
    ['".." in the name', updated({ name: 'team/..' }), /zot payload: name: .*OCI name grammar/],
    ['a 900-character reference', updated({ reference: LONG_TAG }), /zot payload: reference: tag is 900 characters/],
    ['a bad digest', updated({ digest: BAD_DIGEST }), /zot payload: digest: digest .* is not a valid/],
    ['a bad digest as reference', updated({ reference: 'sha256:abc', digest: REMOVE }), /zot payload: reference: digest "sha256:abc"/],
    ['neither reference nor digest', updated({ reference: REMOVE, digest: REMOVE }), /neither a reference nor a digest/],
    ['a bad ce-time', withHeaders('zot', 'image-updated', { 'ce-time': 'later' }), /ce-time header: "later" is not a timestamp/],
  ])('%s', (_name, request, message) => {
    expectPayloadError(parseZot, request, message);
  });
});
