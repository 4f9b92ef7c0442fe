// Property: whatever arrives, ingest answers with JSON and never throws; the only 5xx it
// may give is 503 (backend unavailable). Inputs are the real fixtures of every kind,
// mutated (truncation, byte flips, type swaps, huge strings, deep nesting, dropped keys,
// oversized batches) and re-signed so they get past authentication into the parsers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventKind } from '../../shared/config/schema.js';
import type { WebhookRequest } from '../../shared/events/types.js';
import { fixtureNames } from '../fixtures/load.js';
import { parseConfigText } from '../../shared/config/load.js';
import { authenticate } from '../../shared/intake/authenticate.js';
import { CONFIG_TEXT, fixture, hmac, openHarness, REGISTRY_OF_KIND, SECRET, type Harness } from './harness.js';
import type { IngestResponse } from '../../shared/intake/ingest.js';

const ITERATIONS = 10_000;
const SEED = Number(process.env.FERRY_FUZZ_SEED ?? 0x5eed);

/** mulberry32: small, deterministic, good enough to drive mutations reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

const config = parseConfigText(CONFIG_TEXT, 'test.yaml', {});
/** Every fixture request that authenticates (a few Distribution captures came from a registry without a header). */
const corpus: Array<{ kind: EventKind; request: WebhookRequest }> = (Object.keys(REGISTRY_OF_KIND) as EventKind[])
  .flatMap((kind) => fixtureNames(kind).flatMap((name) => fixture(kind, name).map((request) => ({ kind, request }))))
  .filter(({ kind, request }) => authenticate(config.registries[REGISTRY_OF_KIND[kind]]!, request).ok);

const WEIRD_STRINGS = ['', ' ', '../../etc/passwd', 'a/../b', 'UPPER/Case', 'sha256:', `sha256:${'g'.repeat(64)}`, 'x'.repeat(900), '\u0000', '😀/😀', '%2e%2e/', 'team//app', '-lead', 'v1:v2', 'a@b', '{repository}', '__proto__', 'constructor'];
const WEIRD_VALUES: unknown[] = [null, true, false, 0, -1, 1e308, Number.MAX_SAFE_INTEGER, [], {}, [[]], { '': null }, ...WEIRD_STRINGS];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A random node's path: a random walk from the root (cheap on big bodies, unlike listing all nodes). */
function randomPath(value: Json): Array<string | number> {
  const path: Array<string | number> = [];
  let node = value;
  while (random() < 0.75) {
    if (Array.isArray(node) && node.length > 0) {
      const i = int(node.length);
      path.push(i);
      node = node[i]!;
    } else if (node !== null && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0) {
      const k = pick(Object.keys(node));
      path.push(k);
      node = node[k]!;
    } else break;
  }
  return path;
}

function setAt(root: Json, path: Array<string | number>, replace: (old: Json) => Json | undefined): Json {
  if (path.length === 0) return replace(root) ?? null;
  const parent = path.slice(0, -1).reduce<Json>((node, key) => (node as Record<string, Json>)[key as string] as Json, root) as Record<string, Json> | Json[];
  const key = path[path.length - 1]!;
  const next = replace((parent as Record<string, Json>)[key as string] as Json);
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete (parent as Record<string, Json>)[key as string];
  } else (parent as Record<string, Json>)[key as string] = next;
  return root;
}

function deepNesting(depth: number, leaf: Json): Json {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = random() < 0.5 ? [v] : { a: v };
  return v;
}

type Mutation = (body: Buffer) => Buffer;

const DEEP = '\u0000deep\u0000';

/** Edits the parsed body; deep nesting is spliced in as text (JSON.stringify recurses). */
const jsonMutation = (edit: (json: Json) => Json): Mutation => (body) => {
  try {
    const json = JSON.parse(body.toString('utf8')) as Json;
    let text = JSON.stringify(edit(json));
    const marker = JSON.stringify(DEEP);
    if (text.includes(marker)) {
      const depth = 1 + int(random() < 0.05 ? 50_000 : 300);
      const [open, close] = random() < 0.5 ? ['[', ']'] : ['{"a":', '}'];
      text = text.replace(marker, () => `${open.repeat(depth)}${JSON.stringify(pick(WEIRD_VALUES))}${close.repeat(depth)}`);
    }
    return Buffer.from(text);
  } catch {
    // A body earlier rounds made unparseable or too deep to walk here: use it as it is.
    return body;
  }
};

/** Name, mutation, weight: the costly ones (megabyte bodies) are drawn less often. */
const MUTATIONS: Array<[string, Mutation, number?]> = [
  ['truncate', (b) => b.subarray(0, int(b.length + 1))],
  ['flip bytes', (b) => { const c = Buffer.from(b); for (let i = 1 + int(8); i > 0 && c.length > 0; i--) c[int(c.length)] = int(256); return c; }],
  ['type swap', jsonMutation((j) => { const p = randomPath(j); return setAt(j, p, () => pick(WEIRD_VALUES) as Json); })],
  ['string swap', jsonMutation((j) => { const p = randomPath(j); return setAt(j, p, (old) => (typeof old === 'string' ? pick(WEIRD_STRINGS) : old)); })],
  ['huge string', jsonMutation((j) => { const p = randomPath(j); return setAt(j, p, () => pick(['a', '/', 'é', '\\', '"']).repeat(random() < 0.05 ? 1_100_000 : 1000 + int(20_000))); }), 0.4],
  ['deep nesting', jsonMutation((j) => { const p = randomPath(j); return setAt(j, p, () => DEEP); })],
  ['drop key', jsonMutation((j) => { const p = randomPath(j); return p.length === 0 ? j : setAt(j, p, () => undefined); })],
  ['big batch', jsonMutation((j) => {
    // Sized from the item, so repeated rounds cannot grow a body without bound.
    const events = (j as { events?: Json[] }).events;
    const items = Array.isArray(events) && events.length > 0 ? events : [j];
    const itemBytes = Math.max(...items.slice(0, 10).map((e) => JSON.stringify(e).length), 2);
    const count = 1 + int(Math.min(random() < 0.05 ? 2000 : 100, Math.floor((random() < 0.05 ? 1_200_000 : 200_000) / itemBytes)));
    const batch = Array.from({ length: count }, () => items[int(items.length)]!);
    return items === events ? { events: batch } : batch;
  }), 0.4],
  ['random bytes', () => Buffer.from(Array.from({ length: int(512) }, () => int(256)))],
  ['random json', () => Buffer.from(JSON.stringify(deepNesting(int(6), pick(WEIRD_VALUES) as Json)))],
];

const totalWeight = MUTATIONS.reduce((sum, [, , w]) => sum + (w ?? 1), 0);
function weightedMutation(): [string, Mutation] {
  let r = random() * totalWeight;
  for (const [name, mutate, w] of MUTATIONS) {
    r -= w ?? 1;
    if (r < 0) return [name, mutate];
  }
  return [MUTATIONS[0]![0], MUTATIONS[0]![1]];
}

/** Signature headers follow the mutated body, so mutations reach the parser instead of stopping at 401. */
function resign(request: WebhookRequest, body: Buffer): WebhookRequest {
  const headers = { ...request.headers };
  const signature = hmac(SECRET, body);
  if (headers['x-hub-signature-256'] !== undefined) headers['x-hub-signature-256'] = `sha256=${signature}`;
  for (const name of ['x-gitea-signature', 'x-forgejo-signature', 'x-gogs-signature']) if (headers[name] !== undefined) headers[name] = signature;
  headers['content-length'] = String(body.length);
  return { ...request, headers, body };
}

function check(response: IngestResponse, allowed: readonly number[], what: string): void {
  expect(allowed, what).toContain(response.status);
  expect(typeof response.body, what).toBe('object');
  const text = JSON.stringify(response.body);
  expect(text, what).not.toMatch(/\n\s+at /);
  if (response.status >= 400) {
    expect(typeof response.body.error, what).toBe('string');
  }
  if (response.status === 400) expect(typeof response.body.detail, what).toBe('string');
}

describe(`ingest under ${ITERATIONS} mutated and random bodies (seed ${SEED})`, () => {
  let h: Harness;
  let down: Harness;
  beforeAll(async () => {
    h = await openHarness();
    down = await openHarness();
    await down.backend.close();
  });
  afterAll(async () => {
    await h.close();
    await down.close();
  });

  it('never throws and never answers 5xx except 503', { timeout: 120_000 }, async () => {
    const seen = new Map<number, number>();
    for (let i = 0; i < ITERATIONS; i++) {
      const { kind, request } = pick(corpus);
      const [name, mutate] = weightedMutation();
      let body = request.body;
      for (let rounds = 1 + int(3); rounds > 0; rounds--) body = mutate(body);
      const mutated = resign(request, body);
      const what = `iteration ${i} (seed ${SEED}): ${kind} ${name}, ${body.length} bytes: ${body.subarray(0, 200).toString('utf8')}`;
      // One in ten against a backend that is down: the answer is then 503, never a crash.
      const target = i % 10 === 9 ? down : h;
      let response: IngestResponse;
      try {
        response = await target.ingest(mutated);
      } catch (e) {
        throw new Error(`ingest threw on ${what}: ${(e as Error).stack}`);
      }
      check(response, target === down ? [200, 400, 413, 503] : [200, 202, 400, 413], what);
      seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
    }
    // The mutations reach every outcome: otherwise the property says little.
    expect([...seen.keys()].sort()).toEqual([200, 202, 400, 413, 503]);
  });
});
