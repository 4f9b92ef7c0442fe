// occurredAt is ISO 8601. Senders give RFC 3339 strings or unix seconds; senders that give
// nothing get the time of receipt.
import { fieldError } from './errors.js';

export function isoFromTimestamp(value: string, format: string, field: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw fieldError(format, field, `${JSON.stringify(value.slice(0, 60))} is not a timestamp`);
  return new Date(ms).toISOString();
}

export function isoFromUnixSeconds(value: number, format: string, field: string): string {
  const date = new Date(value * 1000);
  if (!Number.isFinite(value) || Number.isNaN(date.getTime())) throw fieldError(format, field, `${value} is not a unix time`);
  return date.toISOString();
}

/** For senders without a timestamp: when ferry received the event. */
export function receivedAt(): string {
  return new Date().toISOString();
}
