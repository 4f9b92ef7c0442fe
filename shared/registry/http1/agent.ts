// Connections per origin: at most `connections` open, idle ones kept alive for reuse (and
// never keeping the process alive), requests beyond the limit queued in order. A request
// that finds a reused connection already closed by the server is sent again on a new one
// when its body can be replayed.
import { isIP } from 'node:net';
import net from 'node:net';
import { Connection, type Http1Response, type RequestParts } from './connection.js';
import { abortReason, HttpClientError } from './errors.js';
import { ReadBuffer } from './read-slabs.js';

export interface Http1AgentOptions {
  /** Connections per origin. */
  connections: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** How long an idle connection is kept (shortened by the server's `Keep-Alive: timeout`). */
  keepAliveMs: number;
  /** Accept any TLS certificate. */
  insecure?: boolean;
}

export interface Http1Request extends RequestParts {
  url: URL;
}

export type { BodyTap, Http1Response } from './connection.js';

interface Waiter {
  fresh: boolean;
  resolve: (lease: Lease) => void;
  reject: (err: Error) => void;
}

interface Lease {
  connection: Connection;
  reused: boolean;
}

class OriginPool {
  private readonly idle: Connection[] = [];
  private readonly waiters: Waiter[] = [];
  private open = 0;

  constructor(private readonly url: URL, private readonly options: Http1AgentOptions, private readonly agent: Http1Agent) {}


  acquire(fresh: boolean, signal: AbortSignal | undefined): Promise<Lease> {
    // Aborted already: neither take a connection nor wait in line for one.
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (!fresh) {
      const connection = this.idle.pop();
      if (connection) return Promise.resolve(this.lease(connection));
    }
    if (this.open < this.options.connections) return this.connect();
    if (fresh && this.idle.length > 0) {
      this.idle.shift()!.destroy();
      return this.connect();
    }
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(abortReason(signal));
      };
      // A signal may outlive many requests (one per job): leave no listener behind.
      const waiter: Waiter = {
        fresh,
        resolve: (lease) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(lease);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      this.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  closeIdle(): void {
    for (const connection of this.idle.splice(0)) connection.destroy();
    for (const waiter of this.waiters.splice(0)) waiter.reject(new HttpClientError('the HTTP client was closed', 'HTTP_CLIENT_CLOSED'));
  }

  private lease(connection: Connection): Lease {
    connection.socket.setTimeout(0);
    connection.socket.ref();
    return { connection, reused: connection.uses > 0 };
  }

  private connect(): Promise<Lease> {
    this.open += 1;
    return openSocket(this.url, this.options).then(
      (socket) => {
        const connection = new Connection(socket, (c, reusable) => this.release(c, reusable));
        socket.once('close', () => this.closed(connection));
        return { connection, reused: false };
      },
      (err: unknown) => {
        this.open -= 1;
        this.next();
        throw err;
      },
    );
  }

  private release(connection: Connection, reusable: boolean): void {
    if (!reusable || connection.closed || this.agent.isClosed) {
      connection.destroy();
      return;
    }
    const waiter = this.waiters[0];
    if (waiter && !waiter.fresh) {
      this.waiters.shift();
      waiter.resolve(this.lease(connection));
      return;
    }
    this.idle.push(connection);
    const keepAlive = Math.min(this.options.keepAliveMs, connection.serverKeepAliveMs !== undefined ? connection.serverKeepAliveMs - 1000 : Infinity);
    if (keepAlive <= 0) {
      connection.destroy();
      return;
    }
    connection.socket.setTimeout(keepAlive);
    connection.socket.unref();
    if (waiter) {
      // A fresh connection is wanted and the pool is full: make room.
      this.idle.splice(this.idle.indexOf(connection), 1);
      connection.destroy();
    }
  }

  private closed(connection: Connection): void {
    this.open -= 1;
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    this.next();
  }

  /** A connection slot freed up: open one for the next waiter. */
  private next(): void {
    if (this.open >= this.options.connections) return;
    const waiter = this.waiters.shift();
    if (!waiter) return;
    this.connect().then(waiter.resolve, waiter.reject);
  }
}

// TLS is loaded on first use: a CLI run against plain-http registries never pays for it.
let tlsModule: Promise<typeof import('node:tls')> | undefined;

/** The server closed (or reset) the connection: the request may never have reached it. */
function closedUnderUs(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return code === 'HTTP_SOCKET_CLOSED' || code === 'ECONNRESET' || code === 'EPIPE';
}

async function openSocket(url: URL, options: Http1AgentOptions): Promise<net.Socket> {
  const https = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : https ? 443 : 80;
  const tls = https ? await (tlsModule ??= import('node:tls')) : undefined;
  return new Promise((resolve, reject) => {
    const socket: net.Socket = tls
      ? tls.connect({
        host, port, ALPNProtocols: ['http/1.1'],
        ...(isIP(host) ? {} : { servername: host }),
        ...(options.insecure ? { rejectUnauthorized: false } : {}),
      })
      : connectWithSlabs(host, port);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new HttpClientError(`connect to ${url.host} timed out after ${options.connectTimeoutMs} ms`, 'HTTP_CONNECT_TIMEOUT'));
    }, options.connectTimeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
    socket.once(https ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/** Plain TCP reading into one reused buffer (see read-slabs.ts); data still arrives as 'data' events. */
function connectWithSlabs(host: string, port: number): net.Socket {
  const reads = new ReadBuffer();
  const socket: net.Socket = net.connect({
    host, port,
    onread: {
      buffer: () => reads.next(),
      callback: (bytes, region) => {
        socket.emit('data', reads.take(bytes, region));
        return true;
      },
    },
  });
  return socket;
}

export class Http1Agent {
  private readonly pools = new Map<string, OriginPool>();
  private closing = false;

  constructor(private readonly options: Http1AgentOptions) {}

  get isClosed(): boolean {
    return this.closing;
  }

  async request(req: Http1Request): Promise<Http1Response> {
    if (this.closing) throw new HttpClientError('the HTTP client was closed', 'HTTP_CLIENT_CLOSED');
    const pool = this.pool(req.url);
    const streamed = req.body !== undefined && typeof req.body !== 'string' && !Buffer.isBuffer(req.body);
    // A streamed body cannot be sent twice, so it never risks a connection the server may
    // have closed while idle.
    let fresh = streamed;
    for (;;) {
      const lease = await pool.acquire(fresh, req.signal);
      try {
        return await lease.connection.send({
          method: req.method,
          target: req.url.pathname + req.url.search,
          host: req.url.host,
          headers: req.headers,
          ...(req.body !== undefined ? { body: req.body } : {}),
          ...(req.tap ? { tap: req.tap } : {}),
          ...(req.signal ? { signal: req.signal } : {}),
          headersTimeoutMs: this.options.headersTimeoutMs,
          bodyTimeoutMs: this.options.bodyTimeoutMs,
        });
      } catch (e) {
        // Only a connection closed under the request is stale; a timeout is the server being
        // slow, and sending the request again would only double the wait.
        const stale = lease.reused && !lease.connection.answered && !streamed && !req.signal?.aborted && !fresh && closedUnderUs(e);
        if (!stale) throw e;
        fresh = true;
      }
    }
  }

  /** Closes idle connections; requests in flight finish, their connections close after. */
  async close(): Promise<void> {
    this.closing = true;
    for (const pool of this.pools.values()) pool.closeIdle();
  }

  private pool(url: URL): OriginPool {
    const key = url.origin;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new OriginPool(url, this.options, this);
      this.pools.set(key, pool);
    }
    return pool;
  }
}
