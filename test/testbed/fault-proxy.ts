// An HTTP reverse proxy in front of a registry whose misbehaviour tests script: throttling
// (429 + Retry-After), outages (503), corrupted blob bytes, uploads cut mid-body, dropped
// connections and slow answers. It counts every request so tests can assert on traffic.

import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

export interface RequestMatch {
  /** HTTP method, e.g. 'GET', 'PATCH'. */
  method?: string;
  /** Substring of, or pattern against, the request path (with query string). */
  path?: string | RegExp;
}

export type Fault =
  /** Answer with `status` without forwarding (e.g. 429 with Retry-After, 503). */
  | { kind: 'status'; status: number; retryAfterSeconds?: number; body?: string }
  /** Forward, but flip bytes of the response body (the digest will not verify). */
  | { kind: 'corrupt' }
  /** Forward the first `afterBytes` of the request body, then drop both connections. */
  | { kind: 'cut-upload'; afterBytes: number }
  /** Close the client connection without any response. */
  | { kind: 'reset' }
  /** Wait before forwarding. */
  | { kind: 'delay'; ms: number };

export interface FaultRule {
  match: RequestMatch;
  fault: Fault;
  /** How many matching requests the fault applies to; default 1. Infinity for always. */
  times?: number;
  /** Share of matching requests the fault applies to, at random (default 1: every one). */
  probability?: number;
}

export interface ProxiedRequest {
  method: string;
  path: string;
  /** Response status sent to the client; 0 when the connection was dropped. */
  status: number;
  /** Which fault applied, if any. */
  fault?: Fault['kind'];
  requestBytes: number;
  /** When the request arrived (epoch ms). */
  at: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT`, for image references. */
  host: string;
  port: number;
  requests: ProxiedRequest[];
  /** Adds a rule; rules are tried in insertion order, the first with uses left applies. */
  inject(rule: FaultRule): void;
  /** Shorthand: the next `times` matching requests get `status` (Retry-After when given). */
  failWith(match: RequestMatch, status: number, times: number, retryAfterSeconds?: number): void;
  /** Rules still holding uses. */
  pendingFaults(): number;
  count(match?: RequestMatch): number;
  /** Forgets rules and recorded requests. */
  reset(): void;
  stop(): Promise<void>;
}

function matches(match: RequestMatch, method: string, path: string): boolean {
  if (match.method && match.method.toUpperCase() !== method.toUpperCase()) return false;
  if (match.path !== undefined) {
    if (typeof match.path === 'string' ? !path.includes(match.path) : !match.path.test(path)) return false;
  }
  return true;
}

/** Flips every byte of the first non-empty chunk's middle 16 bytes; length is unchanged. */
function corrupter(): Transform {
  let done = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (!done && chunk.length > 0) {
        done = true;
        const copy = Buffer.from(chunk);
        const start = Math.floor(copy.length / 2);
        for (let i = start; i < Math.min(copy.length, start + 16); i++) copy[i] = copy[i]! ^ 0xff;
        callback(null, copy);
        return;
      }
      callback(null, chunk);
    },
  });
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  const rules: Array<FaultRule & { left: number }> = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  let origin = '';

  const takeFault = (method: string, path: string): Fault | undefined => {
    for (const rule of rules) {
      if (rule.left > 0 && matches(rule.match, method, path) && (rule.probability === undefined || Math.random() < rule.probability)) {
        rule.left -= 1;
        return rule.fault;
      }
    }
    return undefined;
  };

  const rewriteLocation = (value: string): string => {
    // Keep clients on the proxy whether the registry answered with an absolute or relative URL.
    if (value.startsWith(targetUrl.origin)) return origin + value.slice(targetUrl.origin.length);
    return value;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const record: ProxiedRequest = { method, path, status: 0, requestBytes: 0, at: Date.now() };
    requests.push(record);
    const fault = takeFault(method, path);
    if (fault) record.fault = fault.kind;

    if (fault?.kind === 'status') {
      req.resume();
      req.on('end', () => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.retryAfterSeconds !== undefined) headers['retry-after'] = String(fault.retryAfterSeconds);
        const code = fault.status === 429 ? 'TOOMANYREQUESTS' : fault.status >= 500 ? 'UNAVAILABLE' : 'DENIED';
        record.status = fault.status;
        res.writeHead(fault.status, headers);
        res.end(fault.body ?? JSON.stringify({ errors: [{ code, message: `fault proxy: injected ${fault.status}` }] }));
      });
      return;
    }
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }

    const forward = (): void => {
      let cut = false;
      const headers = { ...req.headers, host: targetUrl.host };
      const upstream = httpRequest(
        { host: targetUrl.hostname, port: targetUrl.port, method, path, headers },
        (upstreamRes) => {
          const outHeaders = { ...upstreamRes.headers };
          if (typeof outHeaders.location === 'string') outHeaders.location = rewriteLocation(outHeaders.location);
          record.status = upstreamRes.statusCode ?? 0;
          res.writeHead(upstreamRes.statusCode ?? 502, outHeaders);
          if (fault?.kind === 'corrupt') upstreamRes.pipe(corrupter()).pipe(res);
          else upstreamRes.pipe(res);
        },
      );
      upstream.on('error', () => {
        if (cut) return;
        if (!res.headersSent) {
          record.status = 502;
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'fault proxy: upstream unreachable' }] }));
        } else {
          res.destroy();
        }
      });
      if (fault?.kind === 'cut-upload') {
        let sent = 0;
        req.on('data', (chunk: Buffer) => {
          if (sent >= fault.afterBytes) return;
          const room = fault.afterBytes - sent;
          const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
          sent += part.length;
          record.requestBytes = sent;
          upstream.write(part);
          if (sent >= fault.afterBytes) {
            // Let the registry see the bytes it got, then vanish like a dropped network link.
            cut = true;
            upstream.end();
            upstream.socket?.destroy();
            req.socket.destroy();
            upstream.destroy();
          }
        });
        req.on('end', () => upstream.end());
        return;
      }
      req.on('data', (chunk: Buffer) => {
        record.requestBytes += chunk.length;
      });
      req.pipe(upstream);
    };

    if (fault?.kind === 'delay') setTimeout(forward, fault.ms);
    else forward();
  };

  const server: Server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault proxy has no port');
  origin = `http://127.0.0.1:${address.port}`;

  return {
    url: origin,
    host: `127.0.0.1:${address.port}`,
    port: address.port,
    requests,
    inject(rule) {
      rules.push({ ...rule, left: rule.times ?? 1 });
    },
    failWith(match, status, times, retryAfterSeconds) {
      rules.push({ match, fault: { kind: 'status', status, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) }, left: times });
    },
    pendingFaults() {
      return rules.filter((r) => r.left > 0).length;
    },
    count(match = {}) {
      return requests.filter((r) => matches(match, r.method, r.path)).length;
    },
    reset() {
      rules.length = 0;
      requests.length = 0;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
