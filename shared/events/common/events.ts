// Builds the parser outputs with absent fields left out (not present-but-undefined), so
// events compare, serialise and log cleanly.
import type { IgnoredEvent, NormalizedEvent } from '../types.js';

export interface EventFields {
  id: string;
  action: NormalizedEvent['action'];
  repository: string;
  tag?: string | undefined;
  digest?: string | undefined;
  mediaType?: string | undefined;
  occurredAt: string;
}

export function normalizedEvent(fields: EventFields): NormalizedEvent {
  const event: NormalizedEvent = { id: fields.id, action: fields.action, repository: fields.repository, occurredAt: fields.occurredAt };
  if (fields.tag !== undefined) event.tag = fields.tag;
  if (fields.digest !== undefined) event.digest = fields.digest;
  if (fields.mediaType !== undefined) event.mediaType = fields.mediaType;
  return event;
}

const MAX_REASON_LENGTH = 200;

/** Reasons quote sender-chosen strings (types, actions): clipped so a huge one stays small. */
export function ignoredEvent(reason: string, id?: string): IgnoredEvent {
  const clipped = reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH)}...` : reason;
  return id === undefined ? { reason: clipped } : { reason: clipped, id };
}
