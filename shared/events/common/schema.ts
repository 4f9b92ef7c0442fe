// zod at the boundary: permissive about fields ferry does not read, strict about the types
// of the ones it does. Failures become PayloadErrors naming the field.
import * as z from 'zod';
import { fieldError, fieldPath } from './errors.js';

/** An optional string; JSON null counts as absent (several senders serialise absent as null). */
export const optionalString = z.string().nullish();
export const optionalNumber = z.number().nullish();

/** Parses `value` with `schema`; the error names the first bad field under `base`. */
export function parsePayload<S extends z.ZodType>(schema: S, value: unknown, format: string, base = ''): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const [first, ...rest] = result.error.issues;
  const field = fieldPath(base, first?.path ?? []);
  const problem = describeIssue(first);
  const detail = rest.length > 0
    ? rest.slice(0, 5).map((i) => `${fieldPath(base, i.path)}: ${describeIssue(i)}`).join('; ')
    : undefined;
  throw fieldError(format, field, problem, detail);
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'invalid';
  if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) return 'is missing';
  return issue.message.replace(/^Invalid input: /, '');
}

/** "" and null mean "absent" (Distribution 3.x sends empty descriptor fields as ""). */
export function present(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}
