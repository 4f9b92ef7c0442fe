// PayloadErrors that name the offending field, so a 400 tells the sender's admin exactly
// what was wrong without ferry logging the whole body.
import { PayloadError } from '../types.js';
import { MAX_EVENTS_PER_REQUEST } from './ids.js';

/** `<format> payload: <field>: <problem>`; `detail` carries anything else worth showing. */
export function fieldError(format: string, field: string, problem: string, detail?: string): PayloadError {
  return new PayloadError(`${format} payload: ${field}: ${problem}`, detail);
}

/** Renders a JSON path the way a reader would write it: events[0].target.tag. */
export function fieldPath(base: string, path: ReadonlyArray<PropertyKey>): string {
  let out = base;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(body)' : out;
}

/** A body listing more events than one request may carry (MAX_EVENTS_PER_REQUEST). */
export function tooManyEvents(format: string, field: string, count: number): PayloadError {
  return fieldError(format, field, `${count} events in one request; at most ${MAX_EVENTS_PER_REQUEST} are accepted (send them in smaller batches)`);
}
