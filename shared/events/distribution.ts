// CNCF Distribution / Docker registry v2 notifications (also GitLab's registry and ACR).
// Envelope {"events":[...]} (v1 content type from 2.x, v2 from 3.x) or ACR's bare event.
// Only manifest pushes and deletes matter: a push sends one event per blob and then one
// for the manifest; pulls (including the HEAD checks pushing clients make) and mounts are
// noise. Deletes: a manifest delete carries the digest, and deleting by digest also emits
// one tag delete (tag, no digest) per tag that pointed at it. A blob delete looks exactly
// like a manifest delete (digest + repository); it becomes a digest delete, which is
// harmless: the worker finds no manifest with that digest anywhere.
import * as z from 'zod';
import type { EventParser, IgnoredEvent, NormalizedEvent, ParseResult, WebhookRequest } from './types.js';
import { fieldError, tooManyEvents } from './common/errors.js';
import { ignoredEvent, normalizedEvent } from './common/events.js';
import { bodyEventIds, MAX_EVENTS_PER_REQUEST, senderId } from './common/ids.js';
import { decodeJson } from './common/json.js';
import { checkDigest, checkRepository, checkTag } from './common/names.js';
import { optionalString, parsePayload, present } from './common/schema.js';
import { isoFromTimestamp, receivedAt } from './common/time.js';

const FORMAT = 'distribution';

const envelopeSchema = z.object({ events: z.array(z.unknown()) });

const eventSchema = z.object({
  id: optionalString,
  timestamp: optionalString,
  action: z.string(),
  target: z.unknown().optional(),
  request: z.object({ method: optionalString }).nullish(),
});

const targetSchema = z.object({
  mediaType: optionalString,
  digest: optionalString,
  repository: optionalString,
  url: optionalString,
  tag: optionalString,
});

type Target = z.output<typeof targetSchema>;

const BLOB_MEDIA_TYPE = 'application/octet-stream';
/** Config and layer types: never a manifest, whatever the sender's mediaType habits. */
const BLOB_MEDIA_TYPE_PREFIXES = [
  'application/vnd.oci.image.layer.',
  'application/vnd.docker.image.rootfs.',
  'application/vnd.oci.image.config.',
  'application/vnd.docker.container.image.',
  'application/vnd.oci.empty.',
];

/**
 * A push target is a blob when its URL ends in /blobs/<digest> or its media type says so.
 * Anything else (OCI or Docker manifests and indexes, and unknown artifact manifest types)
 * is a manifest: missing a real manifest push would silently skip a replication, while a
 * misread blob only costs a job that finds nothing at the source.
 */
export function isBlobTarget(target: Pick<Target, 'mediaType' | 'url'>): boolean {
  const path = urlPath(present(target.url));
  if (path !== undefined) {
    // Check the last two segments only: a repository may itself be called "blobs".
    if (/\/manifests\/[^/]+$/.test(path)) return false;
    if (/\/blobs\/[^/]+$/.test(path)) return true;
  }
  const mediaType = present(target.mediaType)?.toLowerCase();
  if (mediaType === undefined) return false;
  return mediaType === BLOB_MEDIA_TYPE || BLOB_MEDIA_TYPE_PREFIXES.some((p) => mediaType.startsWith(p));
}

function urlPath(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url, 'http://placeholder.invalid').pathname;
  } catch {
    return undefined;
  }
}

/** The events of a body: the envelope's list, or ACR's single bare event. */
function eventsOf(json: unknown): { events: unknown[]; base: (i: number) => string } {
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
    if ('events' in json) {
      const { events } = parsePayload(envelopeSchema, json, FORMAT);
      if (events.length > MAX_EVENTS_PER_REQUEST) throw tooManyEvents(FORMAT, 'events', events.length);
      return { events, base: (i) => `events[${i}]` };
    }
    if ('action' in json) return { events: [json], base: () => '' };
  }
  throw fieldError(FORMAT, '(body)', 'expected {"events": [...]} or a single event object with an action');
}

export const parseDistribution: EventParser = (request: WebhookRequest): ParseResult => {
  const { events: raw, base } = eventsOf(decodeJson(request.body, FORMAT));
  const events: NormalizedEvent[] = [];
  const ignored: IgnoredEvent[] = [];
  const bodyId = bodyEventIds(request.body);
  raw.forEach((item, index) => {
    const at = base(index);
    const field = (name: string) => (at === '' ? name : `${at}.${name}`);
    const event = parsePayload(eventSchema, item, FORMAT, at);
    const sentId = present(event.id);
    const id = sentId === undefined ? bodyId(index) : senderId(sentId);
    switch (event.action) {
      case 'pull':
        ignored.push(ignoredEvent(present(event.request?.method)?.toUpperCase() === 'HEAD' ? 'pull (HEAD)' : 'pull', id));
        return;
      case 'mount':
        ignored.push(ignoredEvent('mount', id));
        return;
      case 'push':
      case 'delete':
        break;
      default:
        ignored.push(ignoredEvent(`unknown action ${JSON.stringify(event.action.slice(0, 40))}`, id));
        return;
    }
    if (event.target === undefined || event.target === null) throw fieldError(FORMAT, field('target'), 'is missing');
    const target = parsePayload(targetSchema, event.target, FORMAT, field('target'));
    if (event.action === 'push' && isBlobTarget(target)) {
      ignored.push(ignoredEvent('blob push', id));
      return;
    }
    const repository = checkRepository(present(target.repository), FORMAT, field('target.repository'));
    const tagValue = present(target.tag);
    const digestValue = present(target.digest);
    const tag = tagValue === undefined ? undefined : checkTag(tagValue, FORMAT, field('target.tag'));
    const digest = digestValue === undefined ? undefined : checkDigest(digestValue, FORMAT, field('target.digest'));
    if (tag === undefined && digest === undefined) {
      throw fieldError(FORMAT, field('target'), `${event.action} event has neither a digest nor a tag`);
    }
    const timestamp = present(event.timestamp);
    events.push(normalizedEvent({
      id,
      action: event.action,
      repository,
      tag,
      digest,
      // A delete names no media type; a manifest push does (unless its sender omits it).
      mediaType: event.action === 'push' ? present(target.mediaType) : undefined,
      occurredAt: timestamp === undefined ? receivedAt() : isoFromTimestamp(timestamp, FORMAT, field('timestamp')),
    }));
  });
  return { events, ignored };
};
