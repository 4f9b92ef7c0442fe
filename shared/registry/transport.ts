// HTTP to one registry over undici: pooled keep-alive connections per origin (one dispatcher
// for blob downloads, one for everything else), the trust and proxy settings of the registry,
// its request-rate limit, timeouts, network errors mapped to RegistryError, and a few
// in-client retries of 429/5xx answers (honouring Retry-After) for replayable requests.
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { Agent, Pool, ProxyAgent, type AgentOptions, type Dispatcher } from './undici.js';
import { USER_AGENT } from '../version.js';
import { backoffDelayMs } from '../retry/backoff.js';
import { sleep } from '../retry/sleep.js';
import { parseRetryAfter, RegistryError, TLS_TRUST_HINT } from './errors.js';
import { guardedLookup, REDIRECT_REFUSED_CODE, resolveAllAsync, systemResolveAll, type ResolveAll } from './guarded-lookup.js';
import { proxyFor, redactProxy } from './proxy.js';
import { addressProblem, hostAddress, isPrivateOrLoopback, redactedUrl, redirectUrlProblem, type RedirectPolicy } from './redirect-policy.js';
import { RateController } from './rate-control.js';
import { registryTrust, type RegistryTrust } from './connector.js';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface RequestContext {
  repository?: string;
  reference?: string;
}

export interface TransportOptions {
  /** The registry's config name, carried by every error. */
  registry: string;
  /** scheme://host[:port] */
  url: string;
  /** Accept any TLS certificate (config `insecure: true`). */
  insecure?: boolean;
  /** Trust: extra CA certificates (PEM) on top of the default ones; `verify: false` accepts any certificate. */
  tls?: { ca?: readonly string[]; verify?: boolean };
  /** Forward proxy URL, false for none; undefined: HTTP_PROXY/HTTPS_PROXY/NO_PROXY decide. */
  proxy?: string | false;
  /** Requests started per second at most; 0/undefined = no cap (the rate still adapts to 429/503). */
  requestsPerSecond?: number;
  /** Paces requests and backs off on 429/503 (default: one of its own with `requestsPerSecond` as ceiling). */
  rateControl?: RateController;
  /** Connections (and so requests in flight) per origin. */
  concurrency?: number;
  timeouts?: { connectMs?: number; headersMs?: number; bodyMs?: number };
  retry?: RetryOptions;
  /** Follow redirects to private and loopback addresses even when the registry is not on one. */
  allowPrivateRedirects?: boolean;
  /** Name resolution for redirect targets and the registry's own host (default dns.lookup). */
  resolveAll?: ResolveAll;
  /** Sees every request's answer (or network failure) and how long the headers took: registry health. */
  observer?: RegistryRequestObserver;
}

export interface RegistryRequestObservation {
  registry: string;
  method: string;
  /** URL path only: query strings can carry upload state. */
  path: string;
  /** undefined when no HTTP answer came (network error, timeout). */
  status: number | undefined;
  ms: number;
  error?: string;
}

export type RegistryRequestObserver = (observation: RegistryRequestObservation) => void;

export interface RetryOptions {
  /** Extra attempts after the first for 429/502/503/504 and network errors on replayable requests. */
  attempts: number;
  baseDelayMs: number;
  /** Longest wait between attempts; a Retry-After beyond it is surfaced instead of slept through. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 3, baseDelayMs: 250, maxDelayMs: 10_000 };

/**
 * Sees a streamed request body as it is sent. A throw aborts the request with that error
 * before the chunk leaves, so a check on the last chunk keeps a bad body from completing.
 */
export interface BodyTap {
  chunk(bytes: Buffer): void;
  /** The body stream ended (before the request is considered sent). */
  end(): void;
}

export interface TransportRequest {
  method: HttpMethod;
  /** Absolute URL, or a path resolved against the registry URL. */
  url: string | URL;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  /** Sees a streamed body on its way out; a throw aborts the request (digest checks). */
  tap?: BodyTap;
  context?: RequestContext;
  signal?: AbortSignal;
  /** Retry transient answers inside the transport; default: when the body is replayable. */
  retry?: boolean;
  /**
   * Blob downloads use their own connections: a stream being read holds its connection
   * until it ends, and must never starve the uploads it feeds (same registry on both sides).
   * Redirect targets (another origin the registry sent ferry to) get connections whose
   * every resolved address is held to the redirect policy (redirect-policy.ts).
   */
  lane?: 'default' | 'download' | 'redirect';
}

/** A response body: a Node Readable; `dump()` discards the rest (long bodies close the connection). */
export type ResponseBody = Dispatcher.ResponseData['body'];

export interface TransportResponse {
  status: number;
  url: URL;
  headers: Record<string, string | string[] | undefined>;
  body: ResponseBody;
  header(name: string): string | undefined;
}

// undici parses HTTP/1.1 with llhttp compiled to WebAssembly on the first connection. V8 then
// recompiles it with its optimizing tier in background threads, which a short `ferry copy` pays
// for (~40 ms of CPU) and waits on at exit, for a parser that only reads headers and counts
// body bytes. The baseline compiler alone is enough (bench/README.md, start-up).
setFlagsFromString('--liftoff-only');

const RETRY_STATUSES = new Set([429, 502, 503, 504]);

/** Requests that may be sent again whatever the first attempt did at the registry. */
function idempotent(method: HttpMethod): boolean {
  return method === 'GET' || method === 'HEAD';
}
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
/** OpenSSL's verdicts on a server certificate (Node's error codes): configuration, not weather. */
const TLS_CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE', 'CERT_REVOKED', 'INVALID_CA', 'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const DOWNLOAD_READ_AHEAD = 1024 * 1024;
/** Idle keep-alive connections are closed after this (sooner when the server says so). */
const KEEP_ALIVE_MS = 10_000;

export class Transport {
  readonly registry: string;
  readonly baseUrl: URL;
  private readonly lanes: { default: Lane; download: Lane; redirect: Lane };
  private readonly allowPrivateRedirects: boolean;
  private readonly resolveAll: ResolveAll;
  private ownAddressPrivate: Promise<boolean> | undefined;
  private readonly proxySetting: string | false | undefined;
  readonly rate: RateController;
  private readonly retryOptions: RetryOptions;
  private readonly observer: RegistryRequestObserver | undefined;

  constructor(options: TransportOptions) {
    this.observer = options.observer;
    this.registry = options.registry;
    this.baseUrl = new URL(options.url);
    this.rate = options.rateControl ?? new RateController({
      registry: options.registry,
      ...(options.requestsPerSecond ? { ceiling: options.requestsPerSecond } : {}),
    });
    this.retryOptions = options.retry ?? DEFAULT_RETRY;
    this.proxySetting = options.proxy;
    const t = options.timeouts ?? {};
    const trustOptions = {
      registryHost: this.baseUrl.hostname,
      ca: options.tls?.ca ?? [],
      verify: !options.insecure && options.tls?.verify !== false,
      connectTimeoutMs: t.connectMs ?? 10_000,
    };
    const trust = registryTrust(trustOptions);
    const agentOptions: AgentOptions = {
      connections: options.concurrency ?? 8,
      pipelining: 1,
      headersTimeout: t.headersMs ?? 60_000,
      bodyTimeout: t.bodyMs ?? 120_000,
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
      connect: trust.connect,
    };
    this.allowPrivateRedirects = options.allowPrivateRedirects ?? false;
    this.resolveAll = options.resolveAll ?? systemResolveAll;
    const guardedTrust = registryTrust({ ...trustOptions, lookup: guardedLookup(() => this.redirectPolicy(), this.resolveAll) });
    const guarded: AgentOptions = { ...agentOptions, connect: guardedTrust.connect };
    this.lanes = {
      default: new Lane(agentOptions, trust, 'pools'),
      download: new Lane(agentOptions, trust, 'pools'),
      // Redirect targets are any number of origins (object storage): an Agent drops the pools of
      // origins it no longer talks to.
      redirect: new Lane(guarded, trust, 'agent', agentOptions),
    };
  }

  resolve(url: string | URL): URL {
    return url instanceof URL ? url : new URL(url, this.baseUrl);
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    const url = this.resolve(req.url);
    const replayable = req.body === undefined || typeof req.body === 'string' || Buffer.isBuffer(req.body);
    const retry = (req.retry ?? replayable) && replayable;
    const attempts = retry ? this.retryOptions.attempts : 0;
    for (let attempt = 0; ; attempt++) {
      let res: TransportResponse;
      try {
        res = await this.once(url, req);
      } catch (e) {
        if (attempt < attempts && idempotent(req.method) && e instanceof RegistryError && e.transient && !req.signal?.aborted) {
          await sleep(this.backoff(attempt, undefined), req.signal);
          continue;
        }
        throw e;
      }
      // Reads are also retried after a 500: Distribution answers one to a blob HEAD or GET racing
      // another repository's upload of that blob, and the job's own retry cost seconds
      // (bench/fanin.ts).
      if (attempt >= attempts || !(RETRY_STATUSES.has(res.status) || (res.status === 500 && idempotent(req.method)))) return res;
      const retryAfterMs = parseRetryAfter(res.header('retry-after'));
      if (retryAfterMs !== undefined && retryAfterMs > this.retryOptions.maxDelayMs) return res;
      await res.body.dump().catch(() => undefined);
      await sleep(this.backoff(attempt, retryAfterMs), req.signal);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.lanes.default.close(), this.lanes.download.close(), this.lanes.redirect.close()]);
  }

  /** Private and loopback redirect targets are allowed when the registry itself resolves to one (or by config). */
  redirectPolicy(): Promise<RedirectPolicy> {
    if (this.allowPrivateRedirects) return Promise.resolve({ allowPrivate: true });
    this.ownAddressPrivate ??= (async () => {
      const literal = hostAddress(this.baseUrl);
      const addresses = literal !== undefined ? [literal] : await resolveAllAsync(this.baseUrl.hostname, this.resolveAll);
      return addresses.some(isPrivateOrLoopback);
    })().catch((e: unknown) => {
      this.ownAddressPrivate = undefined;
      throw e;
    });
    return this.ownAddressPrivate.then((allowPrivate) => ({ allowPrivate }));
  }

  /**
   * Throws a permanent REDIRECT_REFUSED RegistryError when the registry's redirect to `url`
   * must not be followed. Names are judged again at connect time (redirect lane); through a
   * forward proxy, which resolves names itself, they are resolved and judged here instead.
   */
  async checkRedirect(url: URL, context: RequestContext | undefined): Promise<void> {
    const policy = await this.redirectPolicy();
    let problem = redirectUrlProblem(url, policy);
    if (problem === undefined && hostAddress(url) === undefined && proxyFor(url, this.proxySetting) !== undefined) {
      const addresses = await resolveAllAsync(url.hostname, this.resolveAll).catch(() => [] as string[]);
      problem = addresses.map((a) => addressProblem(a, policy)).find((p) => p !== undefined);
    }
    if (problem !== undefined) {
      throw new RegistryError(`registry ${this.registry} redirected to ${redactedUrl(url)}, which ferry does not follow: ${problem}`, {
        registry: this.registry, ...context, code: 'REDIRECT_REFUSED',
      });
    }
  }

  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const { baseDelayMs, maxDelayMs } = this.retryOptions;
    // attempt counts from 0 here; the first retry waits about baseDelayMs.
    return backoffDelayMs(attempt + 1, { baseMs: baseDelayMs, capMs: maxDelayMs, maxRetryAfterMs: maxDelayMs }, retryAfterMs);
  }

  private async once(url: URL, req: TransportRequest): Promise<TransportResponse> {
    await this.rate.admit(req.method, req.signal);
    const proxy = proxyFor(url, this.proxySetting);
    let data: Dispatcher.ResponseData;
    const started = performance.now();
    try {
      data = await this.lanes[req.lane ?? 'default'].dispatcher(proxy, url.origin).request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method,
        headers: { 'user-agent': USER_AGENT, ...req.headers },
        // undici closes a connection after every HEAD, in case a broken server sends a body:
        // registries do not, and a blob check per layer would otherwise cost a TLS handshake each.
        ...(req.method === 'HEAD' && url.origin === this.baseUrl.origin ? { reset: false } : {}),
        ...(req.body !== undefined ? { body: requestBody(req.body, req.tap) } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
        // Read-ahead keeps a blob stream moving while its consumer hashes and uploads.
        ...(req.lane === 'download' ? { highWaterMark: DOWNLOAD_READ_AHEAD } : {}),
      });
    } catch (e) {
      const mapped = this.networkError(e, req.method, url, req.context, req.signal, proxy);
      if (!req.signal?.aborted) this.observe(req.method, url, undefined, started, mapped instanceof Error ? mapped.message : String(mapped));
      throw mapped;
    }
    this.observe(req.method, url, data.statusCode, started);
    const headers = data.headers;
    this.rate.observe(data.statusCode, (name) => {
      const value = headers[name];
      return Array.isArray(value) ? value[0] : value;
    });
    return {
      status: data.statusCode,
      url,
      headers,
      body: data.body,
      header(name: string) {
        const value = headers[name.toLowerCase()];
        return Array.isArray(value) ? value[0] : value;
      },
    };
  }

  private observe(method: string, url: URL, status: number | undefined, started: number, error?: string): void {
    if (!this.observer) return;
    try {
      this.observer({ registry: this.registry, method, path: url.pathname, status, ms: performance.now() - started, ...(error !== undefined ? { error } : {}) });
    } catch {
      // Health bookkeeping must never fail a request.
    }
  }

  /** Wraps a failure with no HTTP answer (refused, reset, timeout) with where it happened. */
  networkError(e: unknown, method: string, url: URL, context: RequestContext | undefined, signal?: AbortSignal, proxy?: string): unknown {
    if (e instanceof RegistryError) return e;
    if (signal?.aborted) return signal.reason ?? e;
    // A request body stream that failed (digest check, source registry error) keeps its own error.
    if (e instanceof Error && e.cause instanceof RegistryError) return e.cause;
    const code = errorCode(e);
    const detail = e instanceof Error ? e.message : String(e);
    // Off the registry's origin (redirect targets), the query may carry a signature: not shown.
    const shown = url.origin === this.baseUrl.origin ? url.href : redactedUrl(url);
    if (code === REDIRECT_REFUSED_CODE) {
      return new RegistryError(`registry ${this.registry} redirected to ${shown}, which ferry does not follow: ${detail}`, {
        registry: this.registry, ...context, code: 'REDIRECT_REFUSED', cause: e,
      });
    }
    if (code !== undefined && TLS_CERTIFICATE_CODES.has(code)) {
      // Retrying cannot fix trust: fail at once, saying what would.
      return new RegistryError(
        `${method} ${shown} (registry ${this.registry}) failed: TLS certificate not trusted (${code}: ${detail}); ${TLS_TRUST_HINT}`,
        { registry: this.registry, ...context, code: 'TLS_CERTIFICATE', cause: e },
      );
    }
    if (code !== undefined && (code === 'EPROTO' || code.startsWith('ERR_SSL_'))) {
      // Not TLS at the other end (often plain http), or no common protocol: retrying cannot help.
      return new RegistryError(
        `${method} ${shown} (registry ${this.registry}) failed: TLS handshake failed (${code}: ${detail})`,
        { registry: this.registry, ...context, code: 'TLS_HANDSHAKE', cause: e },
      );
    }
    const timeout = code !== undefined && TIMEOUT_CODES.has(code);
    const via = proxy === undefined ? '' : ` through proxy ${redactProxy(proxy)} (${this.proxySetting === undefined ? 'HTTP_PROXY/HTTPS_PROXY; NO_PROXY bypasses it' : `registry setting proxy; proxy: false bypasses it`})`;
    return new RegistryError(
      `${method} ${shown} (registry ${this.registry}) failed${via}: ${timeout ? 'timed out' : 'network error'} (${code ?? 'unknown'}: ${detail})`,
      { registry: this.registry, ...context, code: timeout ? 'TIMEOUT' : 'NETWORK', cause: e },
    );
  }
}

function requestBody(body: Buffer | string | Readable, tap: BodyTap | undefined): Buffer | string | Readable {
  if (!tap || typeof body === 'string' || Buffer.isBuffer(body)) return body;
  return tapped(body, tap);
}

/** Streamed bodies leave in pieces of about this size (see `tapped`). */
const UPLOAD_PIECE = 256 * 1024;

/**
 * A streamed body as undici sends it, each chunk shown to the tap before it passes on.
 * Neither a Transform nor an async generator: a Transform's writable side runs its own
 * buffering and callbacks per chunk, and iterating a Readable reads everything buffered at
 * once (a copy). Chunks arrive as the source's TLS records were read (16-32 KiB); undici
 * writes each piece it is given with its own socket write, so they are joined into pieces of
 * UPLOAD_PIECE: a sixteenth of the writes (and of the stream callbacks behind each).
 */
function tapped(source: Readable, tap: BodyTap): Readable {
  let held: Buffer[] = [];
  let heldBytes = 0;
  const release = (): Buffer => {
    const piece = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
    held = [];
    heldBytes = 0;
    return piece;
  };
  const out = new Readable({
    // The source's own buffering is enough; a second 1 MiB here would only hold more in memory.
    highWaterMark: 64 * 1024,
    read() {
      source.resume();
    },
    destroy(error, callback) {
      // A failed or abandoned request stops the source.
      source.off('data', onData);
      if (!source.destroyed) source.destroy(error ?? undefined);
      callback(error);
    },
  });
  const onData = (chunk: Buffer): void => {
    try {
      tap.chunk(chunk);
    } catch (e) {
      out.destroy(e as Error);
      return;
    }
    held.push(chunk);
    heldBytes += chunk.length;
    // Also send what is held when the source has nothing more right now: a slow source's
    // bytes must not wait for a full piece.
    if ((heldBytes >= UPLOAD_PIECE || source.readableLength === 0) && !out.push(release())) source.pause();
  };
  let ended = false;
  source.on('data', onData);
  source.once('end', () => {
    ended = true;
    try {
      tap.end();
    } catch (e) {
      out.destroy(e as Error);
      return;
    }
    if (heldBytes > 0) out.push(release());
    out.push(null);
  });
  // A failing source fails the request; so does one closed before its end without an error.
  source.once('error', (error) => out.destroy(error));
  source.once('close', () => {
    if (!ended) out.destroy(Object.assign(new Error('request body source closed before its end'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  });
  return out;
}

/**
 * The connections of one lane: direct ones, and a ProxyAgent per proxy URL in use (made on
 * first use). Each keeps a keep-alive pool per origin; TLS options are shared by all.
 * Direct connections to a registry's own origins go through one Pool per origin held here:
 * undici's Agent closes an origin's whole pool, idle keep-alive connections included,
 * whenever its count of connected sockets reaches zero, and that count drifts when
 * connections close early (measured: 30 TLS handshakes for one 6-blob copy instead of ~10).
 */
class Lane {
  private direct: InstanceType<typeof Agent> | undefined;
  private readonly pools = new Map<string, InstanceType<typeof Pool>>();
  private readonly proxied = new Map<string, InstanceType<typeof ProxyAgent>>();

  /** `directOptions`: for direct connections only (a guarded lookup must not judge the proxy's own address). */
  constructor(
    private readonly directOptions: AgentOptions,
    private readonly trust: RegistryTrust,
    private readonly directKind: 'pools' | 'agent',
    private readonly proxyOptions: AgentOptions = directOptions,
  ) {}

  dispatcher(proxy: string | undefined, origin: string): Dispatcher {
    if (proxy === undefined) {
      if (this.directKind === 'agent') return (this.direct ??= new Agent(this.directOptions));
      let pool = this.pools.get(origin);
      if (!pool) {
        pool = new Pool(origin, this.directOptions);
        this.pools.set(origin, pool);
      }
      return pool;
    }
    let agent = this.proxied.get(proxy);
    if (!agent) {
      // http:// registries are fetched through the proxy with absolute URLs, as HTTP proxies
      // expect (and log each request); https:// ones through a CONNECT tunnel.
      agent = new ProxyAgent({ ...this.proxyOptions, uri: proxy, requestTls: this.trust.tunnelTls(), proxyTunnel: false });
      this.proxied.set(proxy, agent);
    }
    return agent;
  }

  async close(): Promise<void> {
    await Promise.all([this.direct?.close(), ...[...this.pools.values(), ...this.proxied.values()].map((d) => d.close())]);
  }
}

function errorCode(e: unknown): string | undefined {
  let current: unknown = e;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Reads an error response (bounded) and builds the RegistryError for it, OCI error code included. */
export async function responseError(
  res: TransportResponse, registry: string, context: RequestContext & { method: string }, what?: string,
): Promise<RegistryError> {
  const text = await readBounded(res.body, 64 * 1024).catch(() => '');
  const oci = parseOciErrors(text);
  const retryAfterMs = parseRetryAfter(res.header('retry-after'));
  const where = [context.repository && `repository ${context.repository}`, context.reference && `reference ${context.reference}`].filter(Boolean).join(', ');
  const detail = oci ? `${oci.code}: ${oci.message}` : text.trim().slice(0, 200) || 'no body';
  const message = `${what ?? `${context.method} ${res.url.pathname}`} at registry ${registry}${where ? ` (${where})` : ''} -> HTTP ${res.status} ${detail}`;
  return new RegistryError(message, {
    registry,
    ...(context.repository !== undefined ? { repository: context.repository } : {}),
    ...(context.reference !== undefined ? { reference: context.reference } : {}),
    status: res.status,
    ...(oci ? { code: oci.code } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

/** `{errors:[{code,message}]}` -> the first error, or undefined for other bodies. */
export function parseOciErrors(text: string): { code: string; message: string } | undefined {
  if (!text) return undefined;
  try {
    const json = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = Array.isArray(json.errors) ? json.errors[0] : undefined;
    if (first && typeof first.code === 'string') {
      return { code: first.code, message: typeof first.message === 'string' ? first.message : '' };
    }
  } catch {
    // Not JSON: the caller shows the text.
  }
  return undefined;
}

export async function readBounded(body: AsyncIterable<Buffer | string>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (size < limit) chunks.push(buf.subarray(0, limit - size));
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a whole body up to `limit` bytes, failing beyond it (manifests, token responses). */
export async function readAll(body: AsyncIterable<Buffer | string>, limit: number, onTooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > limit) throw onTooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
