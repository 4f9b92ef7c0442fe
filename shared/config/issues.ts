// zod issues -> config problems a person can act on ("required", "unknown key (did you
// mean ...)", "expected a number, got a string"), with paths into the YAML document.
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;

export interface PathProblem {
  path: PropertyKey[];
  message: string;
}

const AUTH_SHAPES = 'auth must be one of { username, password }, { token }, { dockerConfig: true }, { ecr: { region } }, { secretArn }';

/** Lookup of the keys allowed at a path (from the JSON Schema), for "did you mean". */
export type AllowedKeys = (path: readonly PropertyKey[]) => string[] | undefined;

export function issueProblems(issues: readonly Issue[], allowedKeys?: AllowedKeys, base: PropertyKey[] = []): PathProblem[] {
  return issues.flatMap((issue) => issueProblem(issue, allowedKeys, [...base, ...issue.path]));
}

function issueProblem(issue: Issue, allowedKeys: AllowedKeys | undefined, path: PropertyKey[]): PathProblem[] {
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: unknownKeyMessage(key, allowedKeys?.(path)) }));
    case 'invalid_type':
      return [{ path, message: /received undefined$/.test(issue.message) ? 'required' : stripPrefix(issue.message) }];
    case 'invalid_union':
      return unionProblem(issue, allowedKeys, path);
    case 'invalid_key':
      return [{ path, message: `invalid name: ${issue.issues.map((i) => i.message).join('; ')}` }];
    case 'too_small':
      return [{ path, message: tooSmall(issue) }];
    case 'too_big':
      return [{ path, message: issue.origin === 'array' ? `must have at most ${String(issue.maximum)} items` : issue.origin === 'string' ? `must be at most ${String(issue.maximum)} characters` : `must be ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}` }];
    default:
      return [{ path, message: stripPrefix(issue.message) }];
  }
}

function tooSmall(issue: Extract<Issue, { code: 'too_small' }>): string {
  if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} item${Number(issue.minimum) === 1 ? '' : 's'}`;
  if (issue.origin === 'string') return Number(issue.minimum) === 1 ? 'must not be empty' : `must be at least ${String(issue.minimum)} characters`;
  return `must be ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
}

function unionProblem(issue: Extract<Issue, { code: 'invalid_union' }>, allowedKeys: AllowedKeys | undefined, path: PropertyKey[]): PathProblem[] {
  if (path[path.length - 1] === 'auth') return [{ path, message: AUTH_SHAPES }];
  const branches = issue.errors;
  // Every branch rejected the value's type (string | number fields): one merged message.
  const typeOnly = branches.every((b) => b.length === 1 && b[0]!.code === 'invalid_type' && b[0]!.path.length === 0);
  if (typeOnly && branches.length > 0) {
    const expected = branches.map((b) => (b[0] as Extract<Issue, { code: 'invalid_type' }>).expected);
    const received = /received (\w+)$/.exec(branches[0]![0]!.message)?.[1];
    return [{ path, message: received === 'undefined' ? 'required' : `expected ${expected.join(' or ')}${received ? `, received ${received}` : ''}` }];
  }
  // Otherwise the branch that came closest explains best.
  const closest = [...branches].sort((a, b) => a.length - b.length)[0];
  if (!closest || closest.length === 0) return [{ path, message: stripPrefix(issue.message) }];
  return issueProblems(closest, allowedKeys, path);
}

function stripPrefix(message: string): string {
  return message.replace(/^Invalid (input|option): /, '');
}

function unknownKeyMessage(key: string, allowed: string[] | undefined): string {
  if (!allowed || allowed.length === 0) return 'unknown key';
  const near = allowed.filter((a) => editDistance(a.toLowerCase(), key.toLowerCase()) <= Math.max(1, Math.floor(a.length / 3)));
  if (near.length > 0) return `unknown key (did you mean ${near.join(' or ')}?)`;
  return `unknown key (allowed: ${allowed.join(', ')})`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
