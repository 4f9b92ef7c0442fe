// Whatever arrives, a parser answers with a result or a PayloadError, never anything else
// (which the webhook would turn into a 500). Seeded mutations of every fixture: truncation,
// byte flips, type swaps, removed fields, huge strings, deep nesting.
import { describe, expect, it } from 'vitest';
import { EVENT_KINDS } from '../../shared/config/schema.js';
import { parserFor } from '../../shared/events/parsers.js';
import { PayloadError, type WebhookRequest } from '../../shared/events/types.js';
import { isDigest, isRepository, isTag } from '../../shared/oci/grammar.js';
import { fixtureNames, loadFixture, readFixture } from '../fixtures/load.js';

/** mulberry32: small, seedable, good enough to pick mutations reproducibly. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Path = Array<string | number>;
function paths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (prefix.length > 0) out.push(prefix);
  if (Array.isArray(value)) for (const [i, v] of value.entries()) paths(v, [...prefix, i], out);
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

// Deep nesting is spliced in as text: JSON.stringify itself cannot nest that deep.
const DEEP_MARKER = '__deeply_nested__';
const DEEP_JSON = '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000);
const REPLACEMENTS: unknown[] = [null, 0, -1, 1e308, true, '', 'x'.repeat(100_000), '../../etc/passwd', 'sha256:' + 'g'.repeat(64), [], {}, [1, 'a', null], DEEP_MARKER, 'A'.repeat(300), '\u0000', 'v1'];

function mutate(request: WebhookRequest, json: unknown, next: () => number): WebhookRequest {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const choice = next();
  if (choice < 0.15) return { ...request, body: request.body.subarray(0, Math.floor(next() * request.body.length)) };
  if (choice < 0.3) {
    const body = Buffer.from(request.body);
    for (let i = 0; i < 1 + Math.floor(next() * 4); i++) body[Math.floor(next() * body.length)] = Math.floor(next() * 256);
    return { ...request, body };
  }
  const copy = structuredClone(json);
  const all = paths(copy);
  if (all.length === 0) return request;
  const path = pick(all);
  let node = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (choice < 0.45) delete node[last];
  else node[last] = pick(REPLACEMENTS);
  return { ...request, body: Buffer.from(JSON.stringify(copy).replace(`"${DEEP_MARKER}"`, DEEP_JSON)) };
}

describe('parsers under mutated input', () => {
  it.each([...EVENT_KINDS])('%s: every mutation gives a valid result or a PayloadError', (kind) => {
    const parser = parserFor(kind);
    const next = random(0x5eed + kind.length);
    let results = 0;
    let rejected = 0;
    // About 400 mutations per kind however many fixtures it has (the machine is small).
    const requests = fixtureNames(kind).reduce((n, name) => n + readFixture(kind, name).length, 0);
    const perRequest = Math.ceil(400 / requests);
    for (const name of fixtureNames(kind)) {
      const raw = readFixture(kind, name);
      loadFixture(kind, name).forEach((request, index) => {
        for (let i = 0; i < perRequest; i++) {
          const input = mutate(request, raw[index]!.json, next);
          let result;
          try {
            result = parser(input);
          } catch (error) {
            if (!(error instanceof PayloadError)) throw new Error(`${kind}/${name}: ${String(error)}`, { cause: error });
            expect(error.message.length).toBeLessThan(1000);
            rejected++;
            continue;
          }
          results++;
          for (const event of result.events) {
            expect(isRepository(event.repository)).toBe(true);
            if (event.tag !== undefined) expect(isTag(event.tag)).toBe(true);
            if (event.digest !== undefined) expect(isDigest(event.digest)).toBe(true);
            expect(event.id.length).toBeLessThanOrEqual(200);
          }
          for (const ignored of result.ignored) expect(ignored.reason.length).toBeLessThanOrEqual(203);
        }
      });
    }
    // Both outcomes occur: the mutations reach past the JSON decoder into the field checks.
    expect(results).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});
