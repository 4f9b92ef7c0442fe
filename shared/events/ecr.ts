// Amazon ECR through EventBridge: "ECR Image Action" events, delivered over HTTP by an API
// destination (the body is the event) or, in AWS, straight to a function as an object.
// Only SUCCESS results of PUSH and DELETE matter; image-tag is absent for untagged images.
import * as z from 'zod';
import type { EventParser, ParseResult, WebhookRequest } from './types.js';
import { fieldError } from './common/errors.js';
import { ignoredEvent, normalizedEvent } from './common/events.js';
import { bodyEventId, senderId } from './common/ids.js';
import { decodeJson } from './common/json.js';
import { checkDigest, checkRepository, checkTag } from './common/names.js';
import { optionalString, parsePayload, present } from './common/schema.js';
import { isoFromTimestamp, receivedAt } from './common/time.js';

const FORMAT = 'ecr';
export const ECR_IMAGE_ACTION = 'ECR Image Action';

const eventSchema = z.object({
  id: optionalString,
  'detail-type': z.string(),
  source: optionalString,
  time: optionalString,
  detail: z.unknown().optional(),
});

const detailSchema = z.object({
  result: optionalString,
  'action-type': optionalString,
  'repository-name': optionalString,
  'image-digest': optionalString,
  'image-tag': optionalString,
  'manifest-media-type': optionalString,
});

/** A stable id for an event object without one: the hash of its JSON. */
function contentId(event: unknown): string {
  try {
    return bodyEventId(Buffer.from(JSON.stringify(event)), 0);
  } catch {
    // Only absurd nesting makes JSON.stringify throw; no EventBridge event looks like that.
    throw fieldError(FORMAT, '(body)', 'event is nested too deeply');
  }
}

/**
 * Parses an already-decoded EventBridge event (what a Lambda receives from a rule).
 * `fallbackId` names the event when it has no id of its own; by default a hash of its JSON.
 */
export function parseEcrEvent(event: unknown, fallbackId?: string): ParseResult {
  const parsed = parsePayload(eventSchema, event, FORMAT);
  const sentId = present(parsed.id);
  const id = sentId === undefined ? fallbackId ?? contentId(event) : senderId(sentId);
  const detailType = parsed['detail-type'];
  const source = present(parsed.source);
  if (source !== undefined && source !== 'aws.ecr') {
    return { events: [], ignored: [ignoredEvent(`not an ECR event (source ${JSON.stringify(source.slice(0, 60))})`, id)] };
  }
  if (detailType !== ECR_IMAGE_ACTION) {
    return { events: [], ignored: [ignoredEvent(`ecr ${JSON.stringify(detailType.slice(0, 60))}`, id)] };
  }
  if (parsed.detail === undefined || parsed.detail === null) throw fieldError(FORMAT, 'detail', 'is missing');
  const detail = parsePayload(detailSchema, parsed.detail, FORMAT, 'detail');
  const actionType = present(detail['action-type']) ?? '(none)';
  const result = present(detail.result) ?? '(none)';
  const action = actionType === 'PUSH' ? 'push' : actionType === 'DELETE' ? 'delete' : undefined;
  if (action === undefined) {
    return { events: [], ignored: [ignoredEvent(`ecr action ${JSON.stringify(actionType.slice(0, 40))}`, id)] };
  }
  if (result !== 'SUCCESS') {
    return { events: [], ignored: [ignoredEvent(`ecr ${actionType} ${result.slice(0, 40)}`, id)] };
  }
  const repository = checkRepository(present(detail['repository-name']), FORMAT, 'detail.repository-name');
  const tagValue = present(detail['image-tag']);
  const digestValue = present(detail['image-digest']);
  const tag = tagValue === undefined ? undefined : checkTag(tagValue, FORMAT, 'detail.image-tag');
  const digest = digestValue === undefined ? undefined : checkDigest(digestValue, FORMAT, 'detail.image-digest');
  if (tag === undefined && digest === undefined) throw fieldError(FORMAT, 'detail', 'image action has neither image-digest nor image-tag');
  const time = present(parsed.time);
  return {
    events: [normalizedEvent({
      id,
      action,
      repository,
      tag,
      digest,
      mediaType: action === 'push' ? present(detail['manifest-media-type']) : undefined,
      occurredAt: time === undefined ? receivedAt() : isoFromTimestamp(time, FORMAT, 'time'),
    })],
    ignored: [],
  };
}

export const parseEcr: EventParser = (request: WebhookRequest): ParseResult =>
  parseEcrEvent(decodeJson(request.body, FORMAT), bodyEventId(request.body, 0));

/** True when a decoded object is an EventBridge ECR Image Action (for hosts routing raw events). */
export function isEcrImageAction(event: unknown): boolean {
  return typeof event === 'object' && event !== null && (event as Record<string, unknown>)['detail-type'] === ECR_IMAGE_ACTION;
}
