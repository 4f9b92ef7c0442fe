// Harbor webhooks: default JSON and CloudEvents structured mode.
import { describe, expect, it } from 'vitest';
import { parseHarbor } from '../../shared/events/harbor.js';
import { loadFixture } from '../fixtures/load.js';
import {
  BAD_DIGEST, LONG_TAG, REMOVE, expectPayloadError, ignoredReasons, mutated, parseFixture, summaries, truncated, withHeaders,
} from './helpers.js';

const parse = (name: string) => parseFixture(parseHarbor, 'harbor', name);
const D1 = 'sha256:ad2f6c2654719f9dfbdcdb39881784d72d86a2974de1d21d01a10cbff4881167';

describe('Harbor default format', () => {
  it('PUSH_ARTIFACT gives a push of repo_full_name with tag and digest, at occur_at', () => {
    const { events, ignored } = parse('push-artifact');
    expect(ignored).toEqual([]);
    expect(events).toEqual([{
      id: expect.stringMatching(/^[a-f0-9]{64}$/),
      action: 'push',
      repository: 'team/app',
      tag: 'v1',
      digest: D1,
      occurredAt: '2026-11-28T07:01:02.000Z',
    }]);
  });

  it('the same body delivered twice has the same event id (Harbor retries up to 3 times)', () => {
    expect(parse('push-artifact').events[0]!.id).toBe(parse('push-artifact').events[0]!.id);
  });

  it('a digest-only artifact carries its digest in `tag`: it becomes the digest, never a tag', () => {
    const { events } = parse('push-artifact-digest-only');
    expect(summaries({ events, ignored: [] })).toEqual(['push team/app@sha256:a2dacb1f']);
    expect(events[0]!.tag).toBeUndefined();
  });

  it('a digest in `tag` with no digest field still gives the digest', () => {
    const request = mutated('harbor', 'push-artifact-digest-only', { 'event_data.resources.0.digest': REMOVE });
    expect(summaries(parseHarbor(request))).toEqual(['push team/app@sha256:a2dacb1f']);
  });

  it('one event per resource, each with its own id', () => {
    const { events } = parse('push-artifact-two-resources');
    expect(summaries({ events, ignored: [] })).toEqual(['push team/app:v1@sha256:ad2f6c26', 'push team/app:v1-debug@sha256:6b449628']);
    expect(events[0]!.id).not.toBe(events[1]!.id);
  });

  it('DELETE_ARTIFACT gives a delete with the digest (and the first tag)', () => {
    expect(summaries(parse('delete-artifact'))).toEqual(['delete team/app:v1@sha256:ad2f6c26']);
  });

  it('repo_full_name is used; namespace/name only when it is absent', () => {
    const request = mutated('harbor', 'push-artifact', { 'event_data.repository.repo_full_name': REMOVE });
    expect(parseHarbor(request).events[0]!.repository).toBe('team/app');
  });

  it('an artifact event with no resources gives no events', () => {
    expect(parseHarbor(mutated('harbor', 'push-artifact', { 'event_data.resources': [] }))).toEqual({ events: [], ignored: [] });
  });

  it('REPLICATION is ignored (replicating replication events could loop between registries)', () => {
    const { events, ignored } = parse('replication');
    expect(events).toEqual([]);
    expect(ignored).toHaveLength(1);
    expect(ignored[0]!.reason).toMatch(/^harbor REPLICATION .*loop/);
  });

  it('pulls, scans, quota warnings and tag retention runs are ignored', () => {
    expect(ignoredReasons(parse('pull-artifact'))).toEqual({ 'harbor PULL_ARTIFACT': 1 });
    expect(ignoredReasons(parse('scanning-completed'))).toEqual({ 'harbor SCANNING_COMPLETED': 1 });
    expect(ignoredReasons(parse('quota-warning'))).toEqual({ 'harbor QUOTA_WARNNING': 1 });
    expect(ignoredReasons(parse('tag-retention'))).toEqual({ 'harbor TAG_RETENTION': 1 });
  });
});

describe('Harbor CloudEvents (structured mode)', () => {
  it('harbor.artifact.pushed gives a push with the CloudEvent id and time', () => {
    expect(parse('cloudevents-push').events).toEqual([{
      id: '66a0ed43-ca2a-4ba5-a2d5-b7eff0f0b5c1',
      action: 'push',
      repository: 'team/multi',
      tag: 'v1',
      digest: 'sha256:0a9bee1a9c502c5e124e72b25b15ed46d0ce7498fb648bb279133b7f6234b60c',
      occurredAt: '2026-11-28T07:01:02.000Z',
    }]);
  });

  it('harbor.artifact.deleted gives a delete', () => {
    expect(summaries(parse('cloudevents-delete'))).toEqual(['delete team/multi:v1@sha256:0a9bee1a']);
  });

  it('harbor.replication.status.changed is ignored', () => {
    const { events, ignored } = parse('cloudevents-replication');
    expect(events).toEqual([]);
    expect(ignored).toEqual([{ reason: expect.stringMatching(/^harbor harbor\.replication\.status\.changed .*loop/), id: '66a0ed43-ca2a-4ba5-a2d5-b7eff0f0b5c3' }]);
  });

  it('is recognised by its specversion even with a plain application/json content type', () => {
    const request = withHeaders('harbor', 'cloudevents-push', { 'content-type': 'application/json' });
    expect(summaries(parseHarbor(request))).toEqual(['push team/multi:v1@sha256:0a9bee1a']);
  });

  it('several resources keep the CloudEvent id, suffixed by position', () => {
    const request = mutated('harbor', 'cloudevents-push', {
      'data.resources': [{ digest: D1, tag: 'a' }, { digest: D1, tag: 'b' }],
    });
    expect(parseHarbor(request).events.map((e) => e.id)).toEqual(['66a0ed43-ca2a-4ba5-a2d5-b7eff0f0b5c1#0', '66a0ed43-ca2a-4ba5-a2d5-b7eff0f0b5c1#1']);
  });
});

describe('malformed Harbor bodies are PayloadErrors naming the field', () => {
  const push = (changes: Parameters<typeof mutated>[2]) => mutated('harbor', 'push-artifact', changes);
  it.each([
    ['truncated JSON', truncated('harbor', 'push-artifact'), /harbor payload: body is not valid JSON/],
    ['type that is not a string', push({ type: 1 }), /harbor payload: type: expected string, received number/],
    ['occur_at that is a string', push({ occur_at: 'now' }), /occur_at: expected number/],
    ['resources that is an object', push({ 'event_data.resources': {} }), /event_data\.resources: expected array/],
    ['a push without event_data', push({ event_data: REMOVE }), /event_data: is missing/],
    ['a push without repository', push({ 'event_data.repository': REMOVE }), /event_data\.repository\.repo_full_name: is missing/],
    ['".." in repo_full_name', push({ 'event_data.repository.repo_full_name': 'team/../../etc' }), /repo_full_name: .*OCI name grammar/],
    ['a 900-character tag', push({ 'event_data.resources.0.tag': LONG_TAG }), /event_data\.resources\[0\]\.tag: tag is 900 characters/],
    ['a bad digest', push({ 'event_data.resources.0.digest': BAD_DIGEST }), /event_data\.resources\[0\]\.digest: digest .* is not a valid/],
    ['a bad digest in tag', mutated('harbor', 'push-artifact-digest-only', { 'event_data.resources.0.tag': 'sha256:1234' }), /resources\[0\]\.tag: digest "sha256:1234"/],
    ['a CloudEvent without id', mutated('harbor', 'cloudevents-push', { id: REMOVE }), /harbor payload: id: is missing/],
    ['a CloudEvent with a bad repository', mutated('harbor', 'cloudevents-push', { 'data.repository.repo_full_name': 'Team/Multi' }), /data\.repository\.repo_full_name: .*OCI name grammar/],
  ])('%s', (_name, request, message) => {
    expectPayloadError(parseHarbor, request, message);
  });

  it('every fixture of this kind parses without error', () => {
    for (const name of ['push-artifact', 'delete-artifact', 'cloudevents-push', 'replication']) {
      for (const request of loadFixture('harbor', name)) expect(() => parseHarbor(request)).not.toThrow();
    }
  });
});
