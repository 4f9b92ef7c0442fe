// Test helpers for reconcile: cheap tagging (the same manifest bytes under many tags: the
// registry stores the blobs once), a config builder, and a proxy that pages `tags/list`
// the way newer registries do (Distribution 2.8 answers it in one page, whatever `n` says).
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createWorkerStack } from '../../infra/local/serve/worker-stack.js';
import { openEmbeddedBackend } from '../../shared/adapters/embedded/index.js';
import { configSchema, type FerryConfig, type FerryConfigInput } from '../../shared/config/schema.js';
import type { Backend } from '../../shared/jobs/ports.js';
import { silentLogger } from '../../shared/observability/logger.js';
import { awaitJobs } from '../../shared/reconcile/await-jobs.js';
import type { ReconcileResult } from '../../shared/reconcile/reconcile.js';
import { RegistryClient } from '../../shared/registry/client.js';
import { createRegistryClients } from '../../shared/registry/clients.js';

export function clientFor(name: string, url: string): RegistryClient {
  return new RegistryClient({ name, url, insecure: true, limits: { concurrency: 16, requestsPerSecond: 2000 } });
}

/**
 * What reconcile tests run jobs with: fresh embedded backends under `dataDir()`, registry
 * clients for a config, and the worker stack `ferry serve` uses. Everything made is closed
 * by `cleanup()` (call it in afterAll).
 */
export function jobHarness(dataDir: () => string) {
  const cleanups: Array<() => Promise<unknown>> = [];
  let backends = 0;
  return {
    /** Registers more cleanup (run in reverse order). */
    defer(cleanup: () => Promise<unknown>): void {
      cleanups.push(cleanup);
    },
    newBackend(): Backend {
      const backend = openEmbeddedBackend({ dataDir: join(dataDir(), `b${backends++}`) });
      cleanups.push(() => backend.close());
      return backend;
    },
    clients(config: FerryConfig): Map<string, RegistryClient> {
      const made = createRegistryClients(config);
      for (const c of made.values()) cleanups.push(() => c.close());
      return made;
    },
    /** Runs the enqueued jobs of `result` until all are terminal. */
    async runJobs(config: FerryConfig, backend: Backend, result: ReconcileResult) {
      const workers = createWorkerStack(config, backend, { logger: silentLogger });
      workers.pool.start();
      try {
        return await awaitJobs(backend.store, result.enqueued.map((j) => j.id), { pollMs: 50 });
      } finally {
        await workers.pool.drain(5_000);
        await workers.close();
      }
    },
    async cleanup(): Promise<void> {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
      cleanups.length = 0;
    },
  };
}

export const digestAt = async (client: RegistryClient, repository: string, tag: string) => (await client.headManifest(repository, tag))?.digest;

/** Puts the manifest `from` points at under every tag in `tags` (same repository: blobs are already there). */
export async function tagMany(client: RegistryClient, repository: string, from: string, tags: Iterable<string>): Promise<string> {
  const manifest = await client.getManifest(repository, from);
  if (!manifest) throw new Error(`${repository}:${from} not found at ${client.url}`);
  const all = [...tags];
  // A few at a time: Distribution handles it, and the machine is small.
  for (let i = 0; i < all.length; i += 8) {
    await Promise.all(all.slice(i, i + 8).map((tag) => client.putManifest(repository, tag, manifest)));
  }
  return manifest.digest;
}

/** A parsed config over registries named src, dst (and dst2 when given). */
export function reconcileConfig(input: {
  src: string;
  dst: string;
  dst2?: string;
  policies: NonNullable<FerryConfigInput['policies']>;
  dataDir?: string;
}): FerryConfig {
  const registry = (url: string) => ({ url, insecure: true, limits: { concurrency: 16, requestsPerSecond: 2000 } });
  return configSchema.parse({
    dataDir: input.dataDir ?? '.ferry-unused',
    registries: {
      src: { ...registry(input.src), webhook: { allowUnauthenticated: true } },
      dst: registry(input.dst),
      ...(input.dst2 ? { dst2: registry(input.dst2) } : {}),
    },
    policies: input.policies,
  });
}

export interface TagPagingProxy {
  url: string;
  /** Paths (with query) of every tags/list request answered. */
  readonly tagRequests: string[];
  stop(): Promise<void>;
}

/**
 * Forwards everything to `target`, except `GET /v2/<name>/tags/list`, which it answers
 * from the registry's full list in pages of `n` (after `last`), with a `Link: rel="next"`
 * header as the distribution spec describes.
 */
export async function startTagPagingProxy(target: string): Promise<TagPagingProxy> {
  const upstream = new URL(target);
  const tagRequests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', upstream);
    const m = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      tagRequests.push(`${url.pathname}${url.search}`);
      void pageTags(upstream, m[1]!, url, res);
      return;
    }
    forward(upstream, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    tagRequests,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function pageTags(upstream: URL, name: string, url: URL, res: ServerResponse): Promise<void> {
  try {
    const full = await fetch(new URL(`/v2/${name}/tags/list`, upstream));
    if (full.status !== 200) {
      res.writeHead(full.status, { 'content-type': 'application/json' }).end(await full.text());
      return;
    }
    const body = (await full.json()) as { name: string; tags: string[] | null };
    const tags = [...(body.tags ?? [])].sort();
    const n = Number(url.searchParams.get('n') ?? tags.length);
    const last = url.searchParams.get('last');
    const start = last === null ? 0 : tags.findIndex((t) => t > last);
    const page = start < 0 ? [] : tags.slice(start, start + n);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const lastOnPage = page[page.length - 1];
    if (lastOnPage !== undefined && start + n < tags.length) {
      headers.link = `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(lastOnPage)}>; rel="next"`;
    }
    res.writeHead(200, headers).end(JSON.stringify({ name: body.name, tags: page }));
  } catch (err) {
    res.writeHead(502).end(String(err));
  }
}

function forward(upstream: URL, req: IncomingMessage, res: ServerResponse): void {
  const out = httpRequest(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  out.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(out);
}
