// Quay notifications carry no event type: a repo_push is recognised by updated_tags, and
// makes one push per tag (no digest: the job resolves the tag). Build and vulnerability
// notifications are ignored. `repository` is namespace/name.
import * as z from 'zod';
import type { EventParser, ParseResult, WebhookRequest } from './types.js';
import { tooManyEvents } from './common/errors.js';
import { ignoredEvent, normalizedEvent } from './common/events.js';
import { bodyEventId, bodyEventIds, MAX_EVENTS_PER_REQUEST } from './common/ids.js';
import { decodeJson } from './common/json.js';
import { checkRepository, checkTag } from './common/names.js';
import { optionalString, parsePayload, present } from './common/schema.js';
import { receivedAt } from './common/time.js';

const FORMAT = 'quay';

const payloadSchema = z.object({
  repository: optionalString,
  updated_tags: z.array(z.string()).nullish(),
  build_id: z.unknown().optional(),
  vulnerability: z.unknown().optional(),
});

export const parseQuay: EventParser = (request: WebhookRequest): ParseResult => {
  const payload = parsePayload(payloadSchema, decodeJson(request.body, FORMAT), FORMAT);
  const repository = checkRepository(present(payload.repository), FORMAT, 'repository');
  const tags = payload.updated_tags;
  if (tags === undefined || tags === null) {
    const kind = payload.build_id !== undefined ? 'build' : payload.vulnerability !== undefined ? 'vulnerability_found' : 'non-push';
    return { events: [], ignored: [ignoredEvent(`quay ${kind} notification`, bodyEventId(request.body, 0))] };
  }
  if (tags.length > MAX_EVENTS_PER_REQUEST) throw tooManyEvents(FORMAT, 'updated_tags', tags.length);
  const bodyId = bodyEventIds(request.body);
  // Quay gives no time: all tags of one notification share the time of receipt.
  const occurredAt = receivedAt();
  return {
    events: tags.map((tag, index) => normalizedEvent({
      id: bodyId(index),
      action: 'push',
      repository,
      tag: checkTag(tag, FORMAT, `updated_tags[${index}]`),
      occurredAt,
    })),
    ignored: [],
  };
};
