// Shared set-up for the ingest specs: a real embedded (SQLite) backend in a temp dir, a
// config with one registry per webhook kind, and helpers to post requests.
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedBackend } from '../../shared/adapters/embedded/index.js';
import { parseConfigText } from '../../shared/config/load.js';
import type { FerryConfig } from '../../shared/config/schema.js';
import type { WebhookRequest } from '../../shared/events/types.js';
import type { Backend } from '../../shared/jobs/ports.js';
import { createIngest, type Ingest, type IngestResponse } from '../../shared/intake/ingest.js';
import { FerryMetrics } from '../../shared/observability/metrics.js';

/** Distribution captures were recorded with this static header secret. */
export const DIST_SECRET = 'testbed-secret-token';
export const SECRETS = {
  src: DIST_SECRET,
  harbor: 'harbor-secret',
  ecr: 'ecr-secret',
  hub: 'hub-secret',
  zot: 'zot-secret',
  quay: 'quay-secret',
  gh: 'github-secret',
  gitea: 'gitea-secret',
  jfrog: 'jfrog-secret',
} as const;

export const CONFIG_TEXT = `
registries:
  src: { url: http://127.0.0.1:15000, insecure: true, kind: distribution, webhook: { secret: ${SECRETS.src} } }
  harbor: { url: https://harbor.example.com, kind: harbor, webhook: { secret: ${SECRETS.harbor} } }
  ecr: { url: https://1.dkr.ecr.us-east-1.amazonaws.com, kind: ecr, webhook: { secret: ${SECRETS.ecr} } }
  hub: { url: https://registry-1.docker.io, kind: dockerhub, webhook: { secret: ${SECRETS.hub} } }
  zot: { url: https://zot.example.com, kind: zot, webhook: { secret: ${SECRETS.zot} } }
  quay: { url: https://quay.io, kind: quay, webhook: { secret: ${SECRETS.quay} } }
  gh: { url: https://ghcr.io, kind: github, webhook: { secret: ${SECRETS.gh} } }
  gitea: { url: https://gitea.example.com, kind: gitea, webhook: { secret: ${SECRETS.gitea} } }
  jfrog: { url: https://jfrog.example.com, kind: artifactory, webhook: { secret: ${SECRETS.jfrog} } }
  open: { url: https://open.example.com, webhook: { allowUnauthenticated: true } }
  closed: { url: https://closed.example.com }
  dr: { url: https://dr.example.com }
policies:
  - { name: src-mirror, source: src, deletes: true, destinations: [{ registry: dr, repository: "mirror/{repository}" }] }
  - { name: harbor, source: harbor, deletes: true, destinations: [{ registry: dr, repository: "harbor/{repository}" }] }
  - { name: ecr, source: ecr, deletes: true, destinations: [{ registry: dr, repository: "ecr/{repository}" }] }
  - { name: hub, source: hub, destinations: [{ registry: dr, repository: "hub/{repository}" }] }
  - { name: zot, source: zot, deletes: true, destinations: [{ registry: dr, repository: "zot/{repository}" }] }
  - { name: quay, source: quay, destinations: [{ registry: dr, repository: "quay/{repository}" }] }
  - { name: gh, source: gh, destinations: [{ registry: dr, repository: "gh/{repository}" }] }
  - { name: gitea, source: gitea, deletes: true, destinations: [{ registry: dr, repository: "gitea/{repository}" }] }
  - { name: jfrog, source: jfrog, deletes: true, destinations: [{ registry: dr, repository: "jfrog/{repository}" }] }
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

/** A captured Distribution request: its headers (incl. the Bearer secret) and JSON body. */
export interface CapturedRequest {
  headers: Record<string, string>;
  json: unknown;
}

export function captured(name: string): CapturedRequest[] {
  return JSON.parse(readFileSync(new URL(`../fixtures/distribution/${name}.json`, import.meta.url), 'utf8')) as CapturedRequest[];
}

export function replay(h: Harness, req: CapturedRequest, registry = 'src'): Promise<IngestResponse> {
  return h.ingest(request(registry, Buffer.from(JSON.stringify(req.json)), { headers: req.headers }));
}

export const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
