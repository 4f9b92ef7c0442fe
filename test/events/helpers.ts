// Test helpers: parse fixtures, derive malformed variants of them, summarise results.
import { expect } from 'vitest';
import { PayloadError, type EventParser, type NormalizedEvent, type ParseResult, type WebhookRequest } from '../../shared/events/types.js';
import { readFixture, toWebhookRequest, type FixtureRequest } from '../fixtures/load.js';

/** Parses every request of a fixture file and merges the results in order. */
export function parseFixture(parser: EventParser, kind: string, name: string): ParseResult {
  const results = readFixture(kind, name).map((r) => parser(toWebhookRequest(r)));
  return { events: results.flatMap((r) => r.events), ignored: results.flatMap((r) => r.ignored) };
}

/** "push team/app:v1@sha256:ad2f6c26": enough to read a result at a glance. */
export function eventSummary(event: NormalizedEvent): string {
  const tag = event.tag === undefined ? '' : `:${event.tag}`;
  const digest = event.digest === undefined ? '' : `@${event.digest.slice(0, 'sha256:'.length + 8)}`;
  return `${event.action} ${event.repository}${tag}${digest}`;
}

export function summaries(result: ParseResult): string[] {
  return result.events.map(eventSummary);
}

/** How many events were ignored for each reason. */
export function ignoredReasons(result: ParseResult): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const i of result.ignored) counts[i.reason] = (counts[i.reason] ?? 0) + 1;
  return counts;
}

type Json = unknown;
/** A value meaning "remove this key" in a mutation. */
export const REMOVE = Symbol('remove');

/** Sets (or removes) a value at a dotted path such as "events.0.target.tag". */
function setPath(root: Json, path: string, value: Json | typeof REMOVE): void {
  const keys = path.split('.');
  let node = root as Record<string, Json>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, Json>;
  const last = keys[keys.length - 1]!;
  if (value === REMOVE) delete node[last];
  else node[last] = value;
}

/** The first request of a fixture with fields changed: `{ 'events.0.target.tag': 'x' }`. */
export function mutated(kind: string, name: string, changes: Record<string, Json | typeof REMOVE>, index = 0): WebhookRequest {
  const request = structuredClone(readFixture(kind, name)[index]!) as FixtureRequest;
  for (const [path, value] of Object.entries(changes)) setPath(request.json, path, value);
  return toWebhookRequest(request);
}

/** The first request of a fixture with its headers changed (undefined removes one). */
export function withHeaders(kind: string, name: string, headers: Record<string, string | undefined>): WebhookRequest {
  const request = toWebhookRequest(readFixture(kind, name)[0]!);
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) delete request.headers[key];
    else request.headers[key] = value;
  }
  return request;
}

/** The first request of a fixture with its body cut in half, as a dropped connection would. */
export function truncated(kind: string, name: string): WebhookRequest {
  const request = toWebhookRequest(readFixture(kind, name)[0]!);
  return { ...request, body: request.body.subarray(0, Math.floor(request.body.length / 2)) };
}

export function withBody(kind: string, name: string, body: string): WebhookRequest {
  return { ...toWebhookRequest(readFixture(kind, name)[0]!), body: Buffer.from(body) };
}

/** Asserts the parser rejects the request with a PayloadError whose message matches. */
export function expectPayloadError(parser: EventParser, request: WebhookRequest, message: RegExp): PayloadError {
  let caught: unknown;
  try {
    parser(request);
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected a PayloadError').toBeInstanceOf(PayloadError);
  expect((caught as PayloadError).message).toMatch(message);
  return caught as PayloadError;
}

export const LONG_TAG = 'v'.repeat(900);
export const BAD_DIGEST = 'sha256:not-a-digest';
