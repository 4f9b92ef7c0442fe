// The HTTP surface of `ferry serve` (docs/contract.md): webhooks, admin API,
// health and metrics. Transport-level concerns only; the work happens in the core.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FerryConfig } from '../../../shared/config/schema.js';
import type { Ingest } from '../../../shared/intake/ingest.js';
import { InvalidCursorError, type Backend, type ReplaySelector } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';
import type { FerryMetrics } from '../../../shared/observability/metrics.js';
import { RegistryError } from '../../../shared/registry/errors.js';
import { checkAdminToken } from './admin-auth.js';
import { consoleAsset, findConsoleDir } from './console-assets.js';
import { ConsoleSessions } from './console-session.js';
import { AdminInputError, parseDeliveriesQuery, parseJobsQuery, parseReplayBody, parseSyncBody } from './admin-requests.js';
import { BodyBudgetError, BodyTooLargeError, MAX_BODY_BYTES, lowerHeaders, parseJsonBody, queryOf, readBody, readBodyWithin, sendError, sendJson, sendText, type HeldBody } from './http.js';
import { ByteBudget, UNVERIFIED_BODY_BUDGET_BYTES } from './body-budget.js';
import type { ScreenResult, WebhookHead } from '../../../shared/intake/screen.js';
import { isUnknownName, type ControlPlane } from '../../../shared/control/control-plane.js';
import type { JobActionResult } from '../../../shared/control/job-actions.js';
import { sampleMetrics } from './metrics-sampler.js';
import { describeDeadLetters } from '../../../shared/jobs/dead-letters.js';
import type { SyncFn } from '../../../shared/reconcile/sync.js';
import { UnknownPolicyError } from '../../../shared/reconcile/walk.js';

export type Replay = (selector: ReplaySelector, by: string) => Promise<string[]>;

export interface RouteDeps {
  config: FerryConfig;
  backend: Backend;
  ingest: Ingest;
  /** Decides from the headers what it can (401, 413) before a body is read. */
  screen: (head: WebhookHead) => ScreenResult;
  /** Unverified webhook bodies held at once (default UNVERIFIED_BODY_BUDGET_BYTES). */
  unverifiedBodyBytes?: number;
  replay: Replay;
  sync: SyncFn;
  metrics: FerryMetrics;
  logger: Logger;
  /** Where the built console is (default: found next to the bundle or in dist/console). */
  consoleDir?: string;
  /** Every admin action and view beyond the basic job list (the console's API). */
  control: ControlPlane;
  /** True once shutdown started: webhooks get 503 so senders retry against the next process. */
  draining: () => boolean;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, params: string[]) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  admin: boolean;
  handler: Handler;
}

export function createRequestHandler(deps: RouteDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { backend, logger } = deps;
  const unverifiedBodies = new ByteBudget(deps.unverifiedBodyBytes ?? UNVERIFIED_BODY_BUDGET_BYTES);

  const sessions = new ConsoleSessions(deps.config.admin.token);
  const consoleDir = findConsoleDir(deps.consoleDir);

  const routes: Route[] = [
    { method: 'GET', pattern: /^\/(index\.html|console\.js|console\.css)?$/, admin: false, handler: consoleFile },
    { method: 'POST', pattern: /^\/api\/session\/?$/, admin: false, handler: login },
    { method: 'DELETE', pattern: /^\/api\/session\/?$/, admin: false, handler: logout },
    { method: 'GET', pattern: /^\/api\/session\/?$/, admin: false, handler: session },
    // Every method goes to ingest: it owns the webhook contract, 405 included.
    { method: '*', pattern: /^\/webhooks\/([^/]+)\/?$/, admin: false, handler: webhook },
    { method: 'GET', pattern: /^\/healthz\/?$/, admin: false, handler: healthz },
    { method: 'GET', pattern: /^\/metrics\/?$/, admin: false, handler: metricsText },
    { method: 'GET', pattern: /^\/api\/jobs\/?$/, admin: true, handler: listJobs },
    { method: 'GET', pattern: /^\/api\/jobs\/([^/]+)\/?$/, admin: true, handler: getJob },
    { method: 'GET', pattern: /^\/api\/dlq\/?$/, admin: true, handler: listDlq },
    { method: 'POST', pattern: /^\/api\/dlq\/replay\/?$/, admin: true, handler: replayDlq },
    { method: 'POST', pattern: /^\/api\/sync\/?$/, admin: true, handler: sync },
    { method: 'POST', pattern: /^\/api\/jobs\/([^/]+)\/(cancel|retry)\/?$/, admin: true, handler: jobAction },
    { method: 'GET', pattern: /^\/api\/overview\/?$/, admin: true, handler: overview },
    { method: 'GET', pattern: /^\/api\/policies\/?$/, admin: true, handler: listPolicies },
    { method: 'GET', pattern: /^\/api\/policies\/([^/]+)\/?$/, admin: true, handler: getPolicy },
    { method: 'POST', pattern: /^\/api\/policies\/([^/]+)\/(pause|resume|sync|verify)\/?$/, admin: true, handler: policyAction },
    { method: 'GET', pattern: /^\/api\/registries\/?$/, admin: true, handler: listRegistries },
    { method: 'GET', pattern: /^\/api\/deliveries\/?$/, admin: true, handler: listDeliveries },
  ];

  async function consoleFile(_req: IncomingMessage, res: ServerResponse, _url: URL, params: string[]): Promise<void> {
    const asset = await consoleAsset(consoleDir, params[0] ?? 'index.html');
    if (!asset) {
      sendError(res, 404, 'console not built', 'the console assets are missing: run npm run build');
      return;
    }
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': asset.body.length,
      'cache-control': 'no-cache',
      // Everything the console loads comes from this server; no inline script runs.
      'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    res.end(asset.body);
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await jsonBody(req);
    const token = typeof body === 'object' && body !== null ? (body as { token?: unknown }).token : undefined;
    const r = sessions.login(token, isTls(req));
    if (!r.ok) {
      logger.warn({ remoteAddress: req.socket.remoteAddress }, 'console login refused');
      sendError(res, r.status, r.error, r.detail);
      return;
    }
    sendJson(res, 200, { authenticated: true }, { 'set-cookie': r.cookie, 'cache-control': 'no-store' });
  }

  async function logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const origin = sessions.checkOrigin(req);
    if (!origin.ok) {
      sendError(res, origin.status, origin.error, origin.detail);
      return;
    }
    sendJson(res, 200, { authenticated: false }, { 'set-cookie': sessions.logout(req, isTls(req)) });
  }

  async function session(req: IncomingMessage, res: ServerResponse): Promise<void> {
    sendJson(res, 200, { authenticated: sessions.has(req) }, { 'cache-control': 'no-store' });
  }

  /** Who did it, for job histories and logs. */
  const actor = (req: IncomingMessage) => (req.headers.authorization ? 'admin-api' : 'console');

  function sendAction(res: ServerResponse, r: JobActionResult): void {
    if (r.ok) sendJson(res, 200, { result: r.result, job: r.job });
    else sendError(res, r.reason === 'not found' ? 404 : 409, r.reason === 'not found' ? 'job not found' : 'conflict', r.detail);
  }

  async function jobAction(req: IncomingMessage, res: ServerResponse, _url: URL, params: string[]): Promise<void> {
    const id = decodeURIComponent(params[0] ?? '');
    const by = actor(req);
    const r = params[1] === 'cancel' ? await deps.control.cancel(id, by) : await deps.control.retry(id, by);
    logger.info({ jobId: id, action: params[1], by, ok: r.ok, ...(r.ok ? { result: r.result } : { detail: r.detail }) }, `job ${params[1]}`);
    sendAction(res, r);
  }

  async function overview(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    sendJson(res, 200, await deps.control.overview());
  }

  async function listPolicies(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    sendJson(res, 200, { policies: await deps.control.policies() });
  }

  async function getPolicy(_req: IncomingMessage, res: ServerResponse, _url: URL, params: string[]): Promise<void> {
    await withNames(res, async () => sendJson(res, 200, await deps.control.policy(decodeURIComponent(params[0] ?? ''))));
  }

  async function policyAction(req: IncomingMessage, res: ServerResponse, _url: URL, params: string[]): Promise<void> {
    const name = decodeURIComponent(params[0] ?? '');
    const by = actor(req);
    await withNames(res, async () => {
      switch (params[1]) {
        case 'pause': sendJson(res, 200, await deps.control.pause(name, by)); return;
        case 'resume': sendJson(res, 200, await deps.control.resume(name, by)); return;
        case 'sync': sendJson(res, 202, await deps.control.sync(name, by)); return;
        default: sendJson(res, 200, await deps.control.verify(name, by));
      }
    });
  }

  async function listRegistries(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    sendJson(res, 200, { registries: deps.control.registries() });
  }

  async function listDeliveries(_req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const q = parseDeliveriesQuery(queryOf(url));
    await withNames(res, async () => sendJson(res, 200, { deliveries: await deps.control.deliveries(q.registry, q.limit) }));
  }

  /** Unknown policy / registry names answer 404; a walk that could not start, 502. */
  async function withNames(res: ServerResponse, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      if (isUnknownName(err)) sendError(res, 404, 'not found', err.message);
      else if (err instanceof RegistryError) sendError(res, 502, 'registry unavailable', err.message);
      else throw err;
    }
  }

  async function webhook(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (deps.draining()) {
      deps.metrics.webhookRequests.inc({ registry: registryLabel(url), status: '503' });
      req.resume();
      sendError(res, 503, 'shutting down', 'ferry is draining; retry shortly', { 'retry-after': '5' });
      return;
    }
    const head = { method: req.method ?? 'POST', path: url.pathname, query: queryOf(url), headers: lowerHeaders(req) };
    const remote = req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {};
    const declared = Number(req.headers['content-length']);
    const screened = deps.screen(Number.isFinite(declared) ? { ...head, declaredLength: declared } : head);
    if ('response' in screened) {
      // Decided from the headers: answer now and discard whatever body follows unread.
      req.resume();
      sendJson(res, screened.response.status, screened.response.body, screened.response.headers);
      return;
    }
    let held: HeldBody;
    try {
      held = screened.verified
        ? { body: await readBody(req, MAX_BODY_BYTES), release: () => {} }
        : await readBodyWithin(req, MAX_BODY_BYTES, unverifiedBodies);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        deps.metrics.webhookRequests.inc({ registry: registryLabel(url), status: '413' });
        sendError(res, 413, 'payload too large', `webhook bodies are limited to ${MAX_BODY_BYTES} bytes`);
        return;
      }
      if (err instanceof BodyBudgetError) {
        deps.metrics.webhookRequests.inc({ registry: registryLabel(url), status: '503' });
        logger.warn({ path: url.pathname, inUse: unverifiedBodies.inUse }, 'webhook refused: unverified body budget exhausted');
        sendError(res, 503, 'busy', err.message, { 'retry-after': '5' });
        return;
      }
      throw err;
    }
    try {
      const result = await deps.ingest({ ...head, ...remote, body: held.body });
      sendJson(res, result.status, result.body, result.headers);
    } finally {
      held.release();
    }
  }

  /** Only configured names become labels: attacker-chosen paths must not mint metric series. */
  function registryLabel(url: URL): string {
    const name = url.pathname.split('/')[2] ?? '';
    return Object.hasOwn(deps.config.registries, name) ? name : '(unknown)';
  }

  async function healthz(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const depth = await withTimeout(backend.queue.depth(), 3000, 'queue depth');
      await withTimeout(backend.store.list({ limit: 1 }), 3000, 'job store');
      sendJson(res, deps.draining() ? 503 : 200, { status: deps.draining() ? 'draining' : 'ok', queue: depth });
    } catch (err) {
      sendError(res, 503, 'backend unavailable', errorText(err));
    }
  }

  async function metricsText(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    await sampleMetrics(backend, deps.metrics, logger);
    sendText(res, 200, await deps.metrics.text(), deps.metrics.contentType);
  }

  async function listJobs(_req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const page = await backend.store.list(parseJobsQuery(queryOf(url)));
    sendJson(res, 200, page.cursor ? { jobs: page.jobs, cursor: page.cursor } : { jobs: page.jobs });
  }

  async function getJob(_req: IncomingMessage, res: ServerResponse, _url: URL, params: string[]): Promise<void> {
    const id = decodeURIComponent(params[0] ?? '');
    const job = await backend.store.get(id);
    if (!job) {
      sendError(res, 404, 'job not found', `no job with id ${JSON.stringify(id)}`);
      return;
    }
    sendJson(res, 200, job);
  }

  async function listDlq(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    sendJson(res, 200, { dead: await describeDeadLetters(backend) });
  }

  async function replayDlq(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const selector = parseReplayBody(await jsonBody(req));
    const replayed = await deps.replay(selector, 'admin-api');
    logger.info({ replayed, selector }, 'replayed dead jobs');
    sendJson(res, 200, { replayed });
  }

  async function sync(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { policy } = parseSyncBody(await jsonBody(req));
    try {
      const result = await deps.sync({ policy, trigger: 'admin-api' });
      sendJson(res, 202, result);
    } catch (err) {
      if (err instanceof UnknownPolicyError) sendError(res, 404, 'unknown policy', err.message);
      // The walk could not start (e.g. the source's catalog is unreachable): a gateway problem.
      else if (err instanceof RegistryError) sendError(res, 502, 'reconcile failed', err.message);
      else throw err;
    }
  }

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://ferry.invalid');
    const started = Date.now();
    const method = req.method ?? 'GET';
    let allowed: string[] = [];
    let match: { route: Route; params: string[] } | undefined;
    for (const route of routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m) continue;
      if (route.method === method || route.method === '*') {
        match = { route, params: m.slice(1) };
        break;
      }
      allowed.push(route.method);
    }
    const run = async (): Promise<void> => {
      if (!match) {
        if (allowed.length > 0) {
          allowed = [...new Set(allowed)];
          sendError(res, 405, 'method not allowed', `${method} ${url.pathname}: use ${allowed.join(', ')}`, { allow: allowed.join(', ') });
        } else {
          sendError(res, 404, 'not found', `no route for ${method} ${url.pathname}`);
        }
        return;
      }
      if (match.route.admin) {
        // The console's session cookie stands in for the bearer token (same-origin writes only).
        const viaSession = !req.headers.authorization && sessions.has(req);
        const auth = viaSession ? sessions.checkOrigin(req) : checkAdminToken(deps.config.admin.token, req.headers.authorization);
        if (!auth.ok) {
          sendError(res, auth.status, auth.error, auth.detail);
          return;
        }
      }
      await match.route.handler(req, res, url, match.params);
    };
    run()
      .catch((err: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (err instanceof AdminInputError || err instanceof InvalidCursorError) sendError(res, 400, 'invalid request', err.message);
        else if (err instanceof SyntaxError) sendError(res, 400, 'invalid JSON', err.message);
        else if (err instanceof URIError) sendError(res, 400, 'invalid request', `malformed percent-encoding in ${url.pathname}`);
        else if (err instanceof BodyTooLargeError) sendError(res, 413, 'payload too large', err.message);
        else {
          logger.error({ err, method, path: url.pathname }, 'request failed');
          // Adapter failures (SQLite busy, SQS down) are worth retrying: 503, not 500.
          sendError(res, 503, 'backend unavailable', errorText(err));
        }
      })
      .finally(() => {
        logger.debug({ method, path: url.pathname, status: res.statusCode, ms: Date.now() - started }, 'http request');
      });
  };
}

async function jsonBody(req: IncomingMessage): Promise<unknown> {
  return parseJsonBody(await readBody(req, MAX_BODY_BYTES));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function isTls(req: IncomingMessage): boolean {
  return 'encrypted' in req.socket && (req.socket as { encrypted?: boolean }).encrypted === true;
}
