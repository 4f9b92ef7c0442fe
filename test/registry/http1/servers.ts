// Real servers on 127.0.0.1 for the HTTP/1.1 client's tests: node:http (a real HTTP
// implementation) and raw node:net servers for byte-exact misbehaviour. Every server and
// agent made through `useResources` is closed after each test.
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { afterEach } from 'vitest';
import { Http1Agent, type Http1AgentOptions } from '../../../shared/registry/http1/agent.js';

export const FAST: Http1AgentOptions = {
  connections: 4,
  connectTimeoutMs: 1000,
  headersTimeoutMs: 1000,
  bodyTimeoutMs: 1000,
  keepAliveMs: 5000,
};

/** What a server saw of its TCP connections. */
export class Sockets {
  total = 0;
  open = 0;
  maxOpen = 0;
  readonly live = new Set<net.Socket>();
  private closeWaiters: (() => void)[] = [];

  track(socket: net.Socket): void {
    this.total += 1;
    this.open += 1;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    this.live.add(socket);
    socket.once('close', () => {
      this.open -= 1;
      this.live.delete(socket);
      for (const waiter of this.closeWaiters.splice(0)) waiter();
    });
  }

  /** Resolves once no connection is open at the server. */
  async allClosed(): Promise<void> {
    while (this.open > 0) await new Promise<void>((resolve) => this.closeWaiters.push(resolve));
  }
}

export interface Served<S extends net.Server> {
  server: S;
  origin: string;
  url(path?: string): URL;
  sockets: Sockets;
}

export interface RawRequest {
  /** The request head as text, request line first. */
  head: string;
  method: string;
  target: string;
  /** Which request this is on its connection (0 for the first). */
  index: number;
}

export function useResources() {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function serve<S extends net.Server>(server: S, scheme: 'http' | 'https' = 'http'): Promise<Served<S>> {
    const sockets = new Sockets();
    server.on('connection', (socket: net.Socket) => sockets.track(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      for (const socket of sockets.live) socket.destroy();
      if (server instanceof http.Server) server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const { port } = server.address() as net.AddressInfo;
    const origin = `${scheme}://127.0.0.1:${port}`;
    return { server, origin, url: (path = '/') => new URL(path, origin), sockets };
  }

  return {
    /** A node:http server. */
    http(handler: http.RequestListener): Promise<Served<http.Server>> {
      return serve(http.createServer({ keepAliveTimeout: 5000 }, handler));
    },

    /** Any server (node:https, ...), already created, listened on here. */
    serve,

    /**
     * A raw TCP server that splits the bytes it receives into request heads (requests without
     * bodies only) and lets `onRequest` answer each with whatever bytes it likes.
     */
    raw(onRequest: (socket: net.Socket, req: RawRequest) => void): Promise<Served<net.Server>> {
      return serve(net.createServer((socket) => {
        let buffered = '';
        let index = 0;
        socket.setNoDelay(true);
        socket.on('error', () => undefined);
        socket.on('data', (chunk) => {
          buffered += chunk.toString('latin1');
          for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
            const head = buffered.slice(0, end);
            buffered = buffered.slice(end + 4);
            const [method = '', target = ''] = head.split(' ');
            onRequest(socket, { head, method, target, index: index++ });
          }
        });
      }));
    },

    agent(options: Partial<Http1AgentOptions> = {}): Http1Agent {
      const agent = new Http1Agent({ ...FAST, ...options });
      cleanups.push(() => agent.close());
      return agent;
    },

    /** Runs `cleanup` after the test (before the servers close). */
    defer(cleanup: () => Promise<void> | void): void {
      cleanups.push(cleanup);
    },
  };
}

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function text(body: Readable): Promise<string> {
  return (await readAll(body)).toString();
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the promise to reject');
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
