// Event ids. A sender's own id is kept; senders without one get a hash of the exact body
// and the event's position, so a redelivered body maps to the same ids (and jobs).
import { createHash, type Hash } from 'node:crypto';

/** The id of event `index` of a body without sender ids: sha256(body, "\0", index). */
export function bodyEventId(body: Buffer, index: number): string {
  return bodyEventIds(body)(index);
}

/**
 * Ids for many events of one body. The body is hashed once and the hash state copied per
 * event: hashing the whole body again for each event made a body of many small events cost
 * quadratic time (58k events in 1 MiB froze the process for 35 s).
 */
export function bodyEventIds(body: Buffer): (index: number) => string {
  let base: Hash | undefined;
  return (index) => {
    base ??= createHash('sha256').update(body);
    return base.copy().update(`\0${index}`).digest('hex');
  };
}

/**
 * One sender event can fan out (Harbor resources, Quay tags): each normalized event keeps
 * the sender's id, suffixed by its position when there is more than one, so the ids stay
 * unique per event and stable across redeliveries.
 */
export function fanOutId(senderId: string, index: number, count: number): string {
  return count <= 1 ? senderId : `${senderId}#${index}`;
}

/** Ids longer than this are replaced by their hash: they end up in job records and logs. */
export const MAX_SENDER_ID_LENGTH = 200;

/** A sender's id as ferry keeps it: verbatim when reasonable, else a stable hash of it. */
export function senderId(value: string): string {
  return value.length <= MAX_SENDER_ID_LENGTH ? value : createHash('sha256').update(value).digest('hex');
}

/**
 * Most events one webhook request may carry. Real senders post one event (Distribution
 * sends each in its own request) or a handful (a Harbor artifact's tags, a Quay push's
 * tags); a body of tens of thousands is an attack on the event loop, refused before any
 * per-event work. 250 keeps the synchronous parse and plan of a full 1 MiB body short
 * enough that ferry serve keeps answering other requests meanwhile (test/e2e/intake-limits).
 */
export const MAX_EVENTS_PER_REQUEST = 250;
