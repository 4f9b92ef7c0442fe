// PayloadErrors that name the offending field, so a 400 tells the sender's admin exactly
// what was wrong without ferry logging the whole body.
import { PayloadError } from '../types.js';

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
