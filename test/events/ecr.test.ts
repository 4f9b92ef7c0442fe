// Amazon ECR "ECR Image Action" events from EventBridge (HTTP via an API destination, or
// a decoded object handed to a Lambda).
import { describe, expect, it } from 'vitest';
import { isEcrImageAction, parseEcr, parseEcrEvent } from '../../shared/events/ecr.js';
import { readFixture } from '../fixtures/load.js';
import {
  BAD_DIGEST, LONG_TAG, REMOVE, expectPayloadError, ignoredReasons, mutated, parseFixture, summaries, truncated,
} from './helpers.js';

const parse = (name: string) => parseFixture(parseEcr, 'ecr', name);

describe('ECR Image Action', () => {
  it('a successful PUSH gives a push with the EventBridge id, time and manifest media type', () => {
    expect(parse('push')).toEqual({
      events: [{
        id: '13cde686-328b-6117-af20-0e5566167482',
        action: 'push',
        repository: 'team/app',
        tag: 'v1',
        digest: 'sha256:ad2f6c2654719f9dfbdcdb39881784d72d86a2974de1d21d01a10cbff4881167',
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        occurredAt: '2026-11-28T07:01:02.000Z',
      }],
      ignored: [],
    });
  });

  it('image-tag may be absent: a digest-only push', () => {
    expect(summaries(parse('push-untagged'))).toEqual(['push team/multi@sha256:a2dacb1f']);
  });

  it('a successful DELETE gives a delete', () => {
    expect(summaries(parse('delete'))).toEqual(['delete team/app:v1@sha256:ad2f6c26']);
  });

  it('FAILURE results are ignored', () => {
    expect(parse('push-failure')).toEqual({ events: [], ignored: [{ reason: 'ecr PUSH FAILURE', id: '4d3ebf20-6c7a-8d9e-afb0-2b3c4d5e6f70' }] });
  });

  it('other ECR detail types (scans, replication, pull-through cache) are ignored', () => {
    expect(ignoredReasons(parse('image-scan'))).toEqual({ 'ecr "ECR Image Scan"': 1 });
  });

  it('events from another source are ignored', () => {
    const request = mutated('ecr', 'push', { source: 'aws.s3' });
    expect(ignoredReasons(parseEcr(request))).toEqual({ 'not an ECR event (source "aws.s3")': 1 });
  });

  it('an unknown action type is ignored', () => {
    expect(ignoredReasons(parseEcr(mutated('ecr', 'push', { 'detail.action-type': 'REPLICATE' })))).toEqual({ 'ecr action "REPLICATE"': 1 });
  });
});

describe('decoded EventBridge objects (the Lambda host)', () => {
  it('parse the same as the HTTP body', () => {
    const [request] = readFixture('ecr', 'push');
    expect(parseEcrEvent(request!.json)).toEqual(parse('push'));
  });

  it('are recognised as ECR Image Actions', () => {
    expect(isEcrImageAction(readFixture('ecr', 'push')[0]!.json)).toBe(true);
    expect(isEcrImageAction(readFixture('ecr', 'image-scan')[0]!.json)).toBe(false);
    expect(isEcrImageAction({ Records: [] })).toBe(false);
  });

  it('without an id get a stable id from their content', () => {
    const event = { ...(readFixture('ecr', 'push')[0]!.json as Record<string, unknown>) };
    delete event.id;
    const first = parseEcrEvent(event).events[0]!.id;
    expect(first).toMatch(/^[a-f0-9]{64}$/);
    expect(parseEcrEvent(structuredClone(event)).events[0]!.id).toBe(first);
  });

  it('reject malformed objects with a PayloadError', () => {
    expect(() => parseEcrEvent('not an event')).toThrow(/ecr payload: \(body\): expected object/);
    expect(() => parseEcrEvent({ 'detail-type': 'ECR Image Action', source: 'aws.ecr', detail: { result: 'SUCCESS', 'action-type': 'PUSH', 'image-tag': 'v1' } }))
      .toThrow(/detail\.repository-name: is missing/);
  });
});

describe('malformed ECR bodies are PayloadErrors naming the field', () => {
  const push = (changes: Parameters<typeof mutated>[2]) => mutated('ecr', 'push', changes);
  it.each([
    ['truncated JSON', truncated('ecr', 'push'), /ecr payload: body is not valid JSON/],
    ['detail-type missing', push({ 'detail-type': REMOVE }), /detail-type: is missing/],
    ['detail that is a string', push({ detail: 'PUSH' }), /ecr payload: detail: expected object/],
    ['image-tag that is a number', push({ 'detail.image-tag': 1 }), /detail\.image-tag: expected string/],
    ['a push without repository-name', push({ 'detail.repository-name': REMOVE }), /detail\.repository-name: is missing/],
    ['".." in repository-name', push({ 'detail.repository-name': '../team/app' }), /detail\.repository-name: .*OCI name grammar/],
    ['a 900-character tag', push({ 'detail.image-tag': LONG_TAG }), /detail\.image-tag: tag is 900 characters/],
    ['a bad digest', push({ 'detail.image-digest': BAD_DIGEST }), /detail\.image-digest: digest .* is not a valid/],
    ['neither digest nor tag', push({ 'detail.image-digest': REMOVE, 'detail.image-tag': REMOVE }), /neither image-digest nor image-tag/],
    ['a bad time', push({ time: 'soon' }), /ecr payload: time: "soon" is not a timestamp/],
  ])('%s', (_name, request, message) => {
    expectPayloadError(parseEcr, request, message);
  });
});
