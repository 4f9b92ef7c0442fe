// Shared set-up for the ingest specs: a real embedded (SQLite) backend in a temp dir, a
// config with one registry per webhook kind, and helpers to post requests.
import { mkdtemp, rm } from 'node:fs/promises';
import { createHmac } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedBackend } from '../../shared/adapters/embedded/index.js';
import { parseConfigText } from '../../shared/config/load.js';
import type { EventKind, FerryConfig } from '../../shared/config/schema.js';
import { FIXTURE_SECRET, loadFixture } from '../fixtures/load.js';
import type { WebhookRequest } from '../../shared/events/types.js';
import type { Backend } from '../../shared/jobs/ports.js';
import { createIngest, type Ingest, type IngestResponse } from '../../shared/intake/ingest.js';
import { FerryMetrics } from '../../shared/observability/metrics.js';

/** Every fixture authenticates with this secret, so every registry here is configured with it. */
export const SECRET = FIXTURE_SECRET;
export const DIST_SECRET = SECRET;

/** The registry name each kind's fixtures are posted to (Distribution's captures went to /events). */
export const REGISTRY_OF_KIND: Record<EventKind, string> = {
  distribution: 'src', harbor: 'harbor', ecr: 'ecr', dockerhub: 'dockerhub', zot: 'zot',
  quay: 'quay', github: 'github', gitea: 'gitea', artifactory: 'artifactory',
};

/** The Artifactory fixtures carry the secret itself (payload signing off), a proof artifactory registries accept only when told to. */
const EXTRA_PROOFS: Partial<Record<EventKind, string>> = { artifactory: ', proofs: [signature, event-auth]' };

const kindRegistries = (Object.entries(REGISTRY_OF_KIND) as Array<[EventKind, string]>)
  .map(([kind, name]) => `  ${name}: { url: https://${name}.example.com, kind: ${kind}, webhook: { secret: ${SECRET}${EXTRA_PROOFS[kind] ?? ''} } }`)
  .join('\n');
const kindPolicies = Object.values(REGISTRY_OF_KIND)
  .map((name) => `  - { name: ${name === 'src' ? 'src-mirror' : name}, source: ${name}, deletes: true, destinations: [{ registry: dr, repository: "${name === 'src' ? 'mirror' : name}/{repository}" }] }`)
  .join('\n');

export const CONFIG_TEXT = `
registries:
${kindRegistries}
  open: { url: https://open.example.com, webhook: { allowUnauthenticated: true } }
  closed: { url: https://closed.example.com }
  dr: { url: https://dr.example.com }
policies:
${kindPolicies}
  - { name: open, source: open, destinations: [{ registry: dr, repository: "open/{repository}" }] }
  - { name: closed, source: closed, destinations: [{ registry: dr, repository: "closed/{repository}" }] }
`;

export interface Harness {
  config: FerryConfig;
  backend: Backend;
  metrics: FerryMetrics;
  ingest: Ingest;
  close(): Promise<void>;
}

export async function openHarness(configText = CONFIG_TEXT): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-intake-'));
  const config = parseConfigText(configText, 'test.yaml', {});
  const backend = openEmbeddedBackend({ dataDir: dir });
  const metrics = new FerryMetrics();
  const ingest = createIngest({ config, queue: backend.queue, store: backend.store, metrics });
  return {
    config, backend, metrics, ingest,
    async close() {
      await backend.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PostOptions {
  method?: string;
  headers?: Record<string, string | undefined>;
  query?: Record<string, string | undefined>;
  path?: string;
}

export function request(registry: string, body: Buffer | string | object, options: PostOptions = {}): WebhookRequest {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(options.headers ?? {})) headers[k.toLowerCase()] = v;
  return { method: options.method ?? 'POST', path: options.path ?? `/webhooks/${registry}`, query: options.query ?? {}, headers, body: raw };
}

export function hmac(secret: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** A fixture's requests, addressed to the registry configured for its kind. */
export function fixture(kind: EventKind, name: string): WebhookRequest[] {
  return loadFixture(kind, name).map((r) => ({ ...r, path: `/webhooks/${REGISTRY_OF_KIND[kind]}` }));
}

/** Captured Distribution 2.8.2 requests (posted to the `src` registry). */
export function captured(name: string): WebhookRequest[] {
  return fixture('distribution', name);
}

export function replay(h: Harness, req: WebhookRequest): Promise<IngestResponse> {
  return h.ingest(req);
}

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
