// Harbor webhooks: the default JSON format {type, occur_at, operator, event_data} and
// CloudEvents structured mode (Harbor 2.8+) whose data equals event_data. One event per
// resource. Harbor's `tag` holds only the first tag, and a digest-only artifact carries
// its digest there: it is used as a digest, never as a tag named "sha256:...".
import * as z from 'zod';
import type { EventParser, IgnoredEvent, NormalizedEvent, ParseResult, WebhookRequest } from './types.js';
import { isStructuredCloudEvent, parseStructuredCloudEvent } from './common/cloudevents.js';
import { fieldError, tooManyEvents } from './common/errors.js';
import { ignoredEvent, normalizedEvent } from './common/events.js';
import { bodyEventIds, fanOutId, MAX_EVENTS_PER_REQUEST, senderId } from './common/ids.js';
import { decodeJson } from './common/json.js';
import { checkDigest, checkRepository, checkTag, looksLikeDigest } from './common/names.js';
import { optionalNumber, optionalString, parsePayload, present } from './common/schema.js';
import { isoFromTimestamp, isoFromUnixSeconds, receivedAt } from './common/time.js';

const FORMAT = 'harbor';

const defaultSchema = z.object({
  type: z.string(),
  occur_at: optionalNumber,
  event_data: z.unknown().optional(),
});

const artifactDataSchema = z.object({
  resources: z.array(z.object({ digest: optionalString, tag: optionalString })).nullish(),
  repository: z.object({ name: optionalString, namespace: optionalString, repo_full_name: optionalString }).nullish(),
});

const PUSH_TYPES = new Set(['PUSH_ARTIFACT', 'harbor.artifact.pushed']);
const DELETE_TYPES = new Set(['DELETE_ARTIFACT', 'harbor.artifact.deleted']);
const REPLICATION_TYPES = new Set(['REPLICATION', 'harbor.replication.status.changed']);

/** The sender-independent view of both formats. */
interface HarborEnvelope {
  type: string;
  id?: string | undefined;
  occurredAt: string;
  data: unknown;
  /** Where event_data sits, for error messages. */
  dataField: string;
}

function envelopeOf(request: WebhookRequest, json: unknown): HarborEnvelope {
  if (isStructuredCloudEvent(request, json)) {
    const ce = parseStructuredCloudEvent(json, FORMAT);
    const time = present(ce.time);
    return { type: ce.type, id: senderId(ce.id), occurredAt: time === undefined ? receivedAt() : isoFromTimestamp(time, FORMAT, 'time'), data: ce.data, dataField: 'data' };
  }
  const event = parsePayload(defaultSchema, json, FORMAT);
  const occurAt = event.occur_at;
  return {
    type: event.type,
    occurredAt: occurAt === null || occurAt === undefined ? receivedAt() : isoFromUnixSeconds(occurAt, FORMAT, 'occur_at'),
    data: event.event_data,
    dataField: 'event_data',
  };
}

export const parseHarbor: EventParser = (request: WebhookRequest): ParseResult => {
  const envelope = envelopeOf(request, decodeJson(request.body, FORMAT));
  const { type, dataField } = envelope;
  const action = PUSH_TYPES.has(type) ? 'push' : DELETE_TYPES.has(type) ? 'delete' : undefined;
  if (action === undefined) {
    const reason = REPLICATION_TYPES.has(type)
      ? `harbor ${type} (replication events are never replicated: that could loop between registries)`
      : `harbor ${type}`;
    return { events: [], ignored: [ignoredEvent(reason, envelope.id)] };
  }
  if (envelope.data === undefined || envelope.data === null) throw fieldError(FORMAT, dataField, 'is missing');
  const data = parsePayload(artifactDataSchema, envelope.data, FORMAT, dataField);
  const repo = data.repository;
  const namespace = present(repo?.namespace);
  const name = present(repo?.name);
  const fullName = present(repo?.repo_full_name) ?? (namespace && name ? `${namespace}/${name}` : undefined);
  const repository = checkRepository(fullName, FORMAT, `${dataField}.repository.repo_full_name`);
  const resources = data.resources ?? [];
  if (resources.length > MAX_EVENTS_PER_REQUEST) throw tooManyEvents(FORMAT, `${dataField}.resources`, resources.length);
  const bodyId = bodyEventIds(request.body);
  const events: NormalizedEvent[] = [];
  const ignored: IgnoredEvent[] = [];
  resources.forEach((resource, index) => {
    const field = `${dataField}.resources[${index}]`;
    const tagValue = present(resource.tag);
    let digest = present(resource.digest);
    let tag: string | undefined;
    if (digest !== undefined) digest = checkDigest(digest, FORMAT, `${field}.digest`);
    if (tagValue !== undefined && looksLikeDigest(tagValue)) {
      const tagDigest = checkDigest(tagValue, FORMAT, `${field}.tag`);
      digest ??= tagDigest;
    } else if (tagValue !== undefined) {
      tag = checkTag(tagValue, FORMAT, `${field}.tag`);
    }
    if (digest === undefined && tag === undefined) throw fieldError(FORMAT, field, 'resource has neither a digest nor a tag');
    const id = envelope.id === undefined ? bodyId(index) : fanOutId(envelope.id, index, resources.length);
    events.push(normalizedEvent({ id, action, repository, tag, digest, occurredAt: envelope.occurredAt }));
  });
  return { events, ignored };
};
