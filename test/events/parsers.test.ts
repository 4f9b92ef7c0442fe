// Properties every parser and every fixture share.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EVENT_KINDS } from '../../shared/config/schema.js';
import { PARSERS, parserFor } from '../../shared/events/parsers.js';
import { isDigest, isRepository, isTag } from '../../shared/oci/grammar.js';
import { PayloadError } from '../../shared/events/types.js';
import { FIXTURE_SECRET, fixtureBody, fixtureNames, loadFixture, readFixture } from '../fixtures/load.js';

const allFixtures = EVENT_KINDS.flatMap((kind) => fixtureNames(kind).map((name) => [kind, name] as const));

describe('parserFor', () => {
  it('has a parser for every registry kind the config accepts', () => {
    for (const kind of EVENT_KINDS) expect(parserFor(kind), kind).toBe(PARSERS[kind]);
    expect(Object.keys(PARSERS).sort()).toEqual([...EVENT_KINDS].sort());
  });
});

describe('every fixture', () => {
  it('exists for every kind', () => {
    for (const kind of EVENT_KINDS) expect(fixtureNames(kind).length, kind).toBeGreaterThan(0);
  });

  it.each(allFixtures)('%s/%s parses into valid, host-free events', (kind, name) => {
    for (const request of loadFixture(kind, name)) {
      const result = parserFor(kind)(request);
      for (const event of result.events) {
        expect(isRepository(event.repository)).toBe(true);
        if (event.tag !== undefined) expect(isTag(event.tag)).toBe(true);
        if (event.digest !== undefined) expect(isDigest(event.digest)).toBe(true);
        expect(event.tag !== undefined || event.digest !== undefined).toBe(true);
        expect(new Date(event.occurredAt).toISOString()).toBe(event.occurredAt);
        expect(event.id.length).toBeGreaterThan(0);
      }
      for (const ignored of result.ignored) expect(ignored.reason.length).toBeGreaterThan(0);
      // Registry hosts come from ferry's config only, never from a payload (docs/architecture.md).
      expect(JSON.stringify(result.events)).not.toMatch(/example\.com|127\.0\.0\.1|azurecr|ghcr\.io|quay\.io|jfrog|docker\.com|:\/\//);
    }
  });

  it.each(allFixtures)('%s/%s: event ids are unique within the file', (kind, name) => {
    const ids = loadFixture(kind, name).flatMap((r) => parserFor(kind)(r).events.map((e) => e.id));
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('fixture authentication headers', () => {
  const sign = (body: Buffer) => createHmac('sha256', FIXTURE_SECRET).update(body).digest('hex');

  it('GitHub fixtures carry X-Hub-Signature-256 over their exact body', () => {
    for (const name of fixtureNames('github')) {
      for (const request of readFixture('github', name)) {
        expect(request.headers['x-hub-signature-256'], name).toBe(`sha256=${sign(fixtureBody(request))}`);
      }
    }
  });

  it('Gitea and Forgejo fixtures carry X-Gitea-Signature (and X-Forgejo-Signature) over their exact body', () => {
    for (const name of fixtureNames('gitea')) {
      for (const request of readFixture('gitea', name)) {
        expect(request.headers['x-gitea-signature'], name).toBe(sign(fixtureBody(request)));
        if (request.headers['x-forgejo-event'] !== undefined) expect(request.headers['x-forgejo-signature'], name).toBe(sign(fixtureBody(request)));
      }
    }
  });

  it('header-auth senders carry the secret; Docker Hub and Quay put it in the query', () => {
    const first = (kind: string, name: string) => readFixture(kind, name)[0]!;
    expect(first('distribution', 'push-single-arch').headers.authorization).toBe(`Bearer ${FIXTURE_SECRET}`);
    expect(first('harbor', 'push-artifact').headers.authorization).toBe(FIXTURE_SECRET);
    expect(first('ecr', 'push').headers.authorization).toBe(`Bearer ${FIXTURE_SECRET}`);
    expect(first('zot', 'image-updated').headers.authorization).toBe(`Bearer ${FIXTURE_SECRET}`);
    expect(first('artifactory', 'pushed').headers['x-jfrog-event-auth']).toBe(FIXTURE_SECRET);
    expect(first('dockerhub', 'push').url).toContain(`token=${FIXTURE_SECRET}`);
    expect(first('quay', 'repo-push').url).toContain(`token=${FIXTURE_SECRET}`);
    expect(loadFixture('quay', 'repo-push')[0]!.query.token).toBe(FIXTURE_SECRET);
  });
});

describe('bodies no sender produces', () => {
  const garbage: Array<[string, string]> = [
    ['empty', ''],
    ['truncated', '{"events":[{"id":"x"'],
    ['not JSON', 'events=1'],
    ['a JSON string', '"push"'],
    ['null', 'null'],
    ['a number', '42'],
  ];
  it.each(EVENT_KINDS.flatMap((kind) => garbage.map(([what, body]) => [kind, what, body] as const)))(
    '%s rejects %s with a PayloadError',
    (kind, _what, body) => {
      // Headers of the kind's first fixture, so the header checks pass and the body is judged.
      const [request] = loadFixture(kind, fixtureNames(kind).find((n) => loadFixture(kind, n).length > 0)!);
      expect(() => parserFor(kind)({ ...request!, body: Buffer.from(body) })).toThrow(PayloadError);
    },
  );
});
