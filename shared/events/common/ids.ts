// Event ids. A sender's own id is kept; senders without one get a hash of the exact body
// and the event's position, so a redelivered body maps to the same ids (and jobs).
import { createHash } from 'node:crypto';

export function bodyEventId(body: Buffer, index: number): string {
  return createHash('sha256').update(body).update(`\0${index}`).digest('hex');
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
