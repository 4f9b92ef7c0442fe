// zot: CloudEvents in binary mode. The type is in the ce-type header (id ce-id, time
// ce-time) and the body is the data {name, reference, digest, mediaType, manifest}.
// A structured-mode event (application/cloudevents+json) is accepted too.
import * as z from 'zod';
import type { EventParser, ParseResult, WebhookRequest } from './types.js';
import { binaryCloudEventAttributes, isStructuredCloudEvent, parseStructuredCloudEvent, type CloudEventAttributes } from './common/cloudevents.js';
import { fieldError } from './common/errors.js';
import { ignoredEvent, normalizedEvent } from './common/events.js';
import { bodyEventId, senderId } from './common/ids.js';
import { decodeJson, decodeJsonObject } from './common/json.js';
import { checkDigest, checkRepository, splitReference } from './common/names.js';
import { optionalString, parsePayload, present } from './common/schema.js';
import { isoFromTimestamp, receivedAt } from './common/time.js';

const FORMAT = 'zot';
const PUSH_TYPE = 'zotregistry.image.updated';
const DELETE_TYPE = 'zotregistry.image.deleted';

const dataSchema = z.object({
  name: optionalString,
  reference: optionalString,
  digest: optionalString,
  mediaType: optionalString,
});

interface ZotEvent {
  attributes: CloudEventAttributes & { type: string };
  data: unknown;
  /** Where the data sits, for error messages: the body itself in binary mode. */
  dataField: string;
}

function eventOf(request: WebhookRequest): ZotEvent {
  const binary = binaryCloudEventAttributes(request);
  if (binary?.type !== undefined) {
    return { attributes: { ...binary, type: binary.type }, data: decodeJsonObject(request.body, FORMAT), dataField: '' };
  }
  const json = decodeJson(request.body, FORMAT);
  if (!isStructuredCloudEvent(request, json)) {
    throw fieldError(FORMAT, 'ce-type header', 'is missing (zot sends CloudEvents in binary mode)');
  }
  const ce = parseStructuredCloudEvent(json, FORMAT);
  return { attributes: { id: ce.id, type: ce.type, time: present(ce.time) }, data: ce.data, dataField: 'data' };
}

export const parseZot: EventParser = (request: WebhookRequest): ParseResult => {
  const { attributes, data, dataField } = eventOf(request);
  const id = attributes.id === undefined ? bodyEventId(request.body, 0) : senderId(attributes.id);
  const action = attributes.type === PUSH_TYPE ? 'push' : attributes.type === DELETE_TYPE ? 'delete' : undefined;
  if (action === undefined) return { events: [], ignored: [ignoredEvent(`zot ${attributes.type.slice(0, 80)}`, id)] };
  const field = (name: string) => (dataField === '' ? name : `${dataField}.${name}`);
  const parsed = parsePayload(dataSchema, data, FORMAT, dataField);
  const repository = checkRepository(present(parsed.name), FORMAT, field('name'));
  const referenceValue = present(parsed.reference);
  const reference = referenceValue === undefined ? {} : splitReference(referenceValue, FORMAT, field('reference'));
  const digestValue = present(parsed.digest);
  const digest = digestValue === undefined ? reference.digest : checkDigest(digestValue, FORMAT, field('digest'));
  if (reference.tag === undefined && digest === undefined) throw fieldError(FORMAT, dataField || '(body)', 'event has neither a reference nor a digest');
  const time = attributes.time;
  return {
    events: [normalizedEvent({
      id,
      action,
      repository,
      tag: reference.tag,
      digest,
      mediaType: action === 'push' ? present(parsed.mediaType) : undefined,
      occurredAt: time === undefined ? receivedAt() : isoFromTimestamp(time, FORMAT, dataField === '' ? 'ce-time header' : 'time'),
    })],
    ignored: [],
  };
};
