// One HTTP/1.1 connection: writes a request (a streamed body with backpressure), reads the
// response head and hands the body out as a stream of views of the socket's own buffers.
// Blob bytes cross Node's stream machinery once; a general-purpose client costs about three
// times the CPU per byte here (measured: see bench/README.md).
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ChunkedDecoder } from './chunked.js';
import { abortReason, HttpClientError } from './errors.js';
import { bodyFraming, keepAliveSeconds, MAX_HEAD_BYTES, parseResponseHead, requestHead, type BodyFraming, type HeaderValues } from './head.js';
import { ResponseBody } from './response-body.js';

/**
 * Sees a streamed request body as it is sent. A throw aborts the request with that error
 * before the chunk leaves, so a check on the last chunk keeps a bad body from completing.
 */
export interface BodyTap {
  chunk(bytes: Buffer): void;
  /** The body stream ended (before the request is considered sent). */
  end(): void;
}

/** What a caller says about a request, whatever connection it goes out on. */
export interface RequestParts {
  method: string;
  headers: Record<string, string>;
  body?: Buffer | string | Readable;
  /** Sees a streamed body as it is sent (a streamed body only). */
  tap?: BodyTap;
  signal?: AbortSignal;
}

export interface ExchangeRequest extends RequestParts {
  /** Path and query. */
  target: string;
  /** Authority for the Host header. */
  host: string;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

export interface Http1Response {
  status: number;
  headers: HeaderValues;
  body: ResponseBody;
}

interface Exchange {
  onData(chunk: Buffer): void;
  onClose(err: Error | undefined): void;
  onTimeout(): void;
}

const HAS_BODY = new Set(['POST', 'PUT', 'PATCH']);

export class Connection {
  /** Requests sent on this connection so far. */
  uses = 0;
  closed = false;
  /** The last exchange saw at least one byte of a response (a retry would not be safe). */
  answered = false;
  /** How long the server keeps the connection idle, when it said so. */
  serverKeepAliveMs: number | undefined;
  private exchange: Exchange | undefined;
  private socketError: Error | undefined;

  constructor(
    readonly socket: Socket,
    /** Called once per exchange when the connection is free again (or unusable). */
    private readonly onFree: (connection: Connection, reusable: boolean) => void,
  ) {
    socket.on('data', (chunk: Buffer) => {
      if (this.exchange) this.exchange.onData(chunk);
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      else socket.destroy();
    });
    socket.on('error', (err) => {
      this.socketError = err;
    });
    socket.on('close', () => {
      this.closed = true;
      this.exchange?.onClose(this.socketError);
    });
    socket.on('timeout', () => {
      if (this.exchange) this.exchange.onTimeout();
      else socket.destroy();
    });
  }

  get busy(): boolean {
    return this.exchange !== undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Sends one request; resolves with the response once its head arrived. */
  send(req: ExchangeRequest): Promise<Http1Response> {
    if (this.exchange) throw new Error('connection is busy');
    this.uses += 1;
    this.answered = false;
    const socket = this.socket;
    return new Promise<Http1Response>((resolve, reject) => {
      let phase: 'head' | 'body' | 'done' = 'head';
      let pending: Buffer | undefined;
      let framing: BodyFraming = { kind: 'none' };
      let left = 0;
      let decoder: ChunkedDecoder | undefined;
      let body: ResponseBody | undefined;
      let requestDone = false;
      let reusable = true;
      let detachSource: (() => void) | undefined;
      /** The caller has the response (and so can listen to its body's errors). */
      let handedOut = false;
      /** The socket is paused because the reader is behind. */
      let held = false;
      const signal = req.signal;

      const finish = (): void => {
        phase = 'done';
        this.exchange = undefined;
        signal?.removeEventListener('abort', onAbort);
        detachSource?.();
        socket.setTimeout(0);
        body?.detach();
        const ok = reusable && requestDone && !this.closed;
        if (!ok) socket.destroy();
        this.onFree(this, ok);
      };

      const fail = (err: Error): void => {
        if (phase === 'done') return;
        const wasHead = phase === 'head' || !handedOut;
        reusable = false;
        const stream = req.body;
        if (stream && typeof stream === 'object' && !Buffer.isBuffer(stream) && !stream.destroyed) stream.destroy();
        const responseBody = body;
        finish();
        if (wasHead) reject(err);
        else responseBody?.destroy(err);
      };

      const push = (chunk: Buffer): void => {
        if (body && !body.push(chunk) && !held) {
          held = true;
          socket.pause();
          // The reader is behind, not the server: no body timeout while it catches up.
          socket.setTimeout(0);
        }
      };

      const bodyDone = (): void => {
        if (!requestDone) reusable = false;
        const done = body;
        finish();
        done?.push(null);
        socket.resume();
      };

      const onBodyData = (chunk: Buffer): void => {
        switch (framing.kind) {
          case 'length':
            if (chunk.length < left) {
              left -= chunk.length;
              push(chunk);
              return;
            }
            push(left === chunk.length ? chunk : chunk.subarray(0, left));
            if (chunk.length > left) reusable = false;
            left = 0;
            bodyDone();
            return;
          case 'chunked': {
            const used = decoder!.feed(chunk, push);
            if (decoder!.done) {
              if (used < chunk.length) reusable = false;
              bodyDone();
            }
            return;
          }
          case 'until-close':
            push(chunk);
            return;
          default:
            // No body expected, yet bytes came: the next response would be misread.
            reusable = false;
        }
      };

      const onHead = (chunk: Buffer): void => {
        this.answered = true;
        let buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
        pending = undefined;
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n', 0, 'latin1');
          if (end < 0) {
            if (buffer.length > MAX_HEAD_BYTES) throw new HttpClientError(`response head larger than ${MAX_HEAD_BYTES} bytes`, 'HTTP_PROTOCOL');
            pending = buffer;
            return;
          }
          const head = parseResponseHead(buffer.toString('latin1', 0, end));
          buffer = buffer.subarray(end + 4);
          if (head.status === 101) throw new HttpClientError('unexpected protocol upgrade (HTTP 101)', 'HTTP_PROTOCOL');
          if (head.status < 200) continue;
          framing = bodyFraming(req.method, head);
          if (head.close) reusable = false;
          const keepAlive = keepAliveSeconds(head.headers);
          if (keepAlive !== undefined) this.serverKeepAliveMs = keepAlive * 1000;
          if (framing.kind === 'length') left = framing.length;
          if (framing.kind === 'chunked') decoder = new ChunkedDecoder();
          const exchangeBody = framing.kind === 'none'
            ? new ResponseBody(undefined)
            : new ResponseBody({
              pull: () => {
                if (phase !== 'body') return;
                if (held) {
                  held = false;
                  socket.setTimeout(req.bodyTimeoutMs);
                }
                socket.resume();
              },
              abandon: (err) => {
                if (phase === 'body') fail(err ?? new HttpClientError('response body abandoned', 'HTTP_SOCKET_CLOSED'));
              },
            });
          body = exchangeBody;
          phase = 'body';
          socket.setTimeout(req.bodyTimeoutMs);
          // The server answered before the request body was all sent (an error, usually):
          // stop sending; the connection ends with this exchange.
          if (!requestDone) {
            reusable = false;
            detachSource?.();
            detachSource = undefined;
          }
          if (framing.kind === 'none') {
            if (buffer.length > 0) reusable = false;
            bodyDone();
          } else if (buffer.length > 0) {
            // Before the response is handed out: a malformed body here rejects the request
            // instead of erroring a body stream nobody can be listening to yet.
            onBodyData(buffer);
          }
          handedOut = true;
          resolve({ status: head.status, headers: head.headers, body: exchangeBody });
          return;
        }
      };

      const onAbort = (): void => fail(abortReason(signal));

      this.exchange = {
        onData: (chunk) => {
          try {
            if (phase === 'body') onBodyData(chunk);
            else if (phase === 'head') onHead(chunk);
          } catch (e) {
            fail(e as Error);
          }
        },
        onClose: (err) => {
          // A reset is no end of the body: only a clean close delimits it.
          if (phase === 'body' && framing.kind === 'until-close' && !err) {
            bodyDone();
            return;
          }
          const detail = phase === 'head' ? 'before the response arrived' : 'in the middle of the response body';
          fail(err ?? new HttpClientError(`connection closed ${detail}`, 'HTTP_SOCKET_CLOSED'));
        },
        onTimeout: () => {
          // While a body is still being sent, the same timer catches a server that stopped
          // reading it (or a body source that stopped producing): say which wait it was.
          const head = requestDone
            ? `no response within ${req.headersTimeoutMs} ms`
            : `no progress sending the request body for ${req.headersTimeoutMs} ms (the server stopped reading it, or its source stalled)`;
          fail(phase === 'head'
            ? new HttpClientError(head, 'HTTP_HEADERS_TIMEOUT')
            : new HttpClientError(`response body idle for ${req.bodyTimeoutMs} ms`, 'HTTP_BODY_TIMEOUT'));
        },
      };

      if (signal?.aborted) {
        fail(abortReason(signal));
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.setTimeout(req.headersTimeoutMs);
      socket.ref();
      try {
        // An answer that came complete before the body was all sent already closed the
        // connection (finish() saw requestDone false): marking it sent changes nothing then.
        detachSource = this.write(req, () => {
          requestDone = true;
        }, fail);
      } catch (e) {
        fail(e as Error);
      }
    });
  }

  /** Writes the request; returns how to stop streaming its body. */
  private write(req: ExchangeRequest, onSent: () => void, onError: (err: Error) => void): (() => void) | undefined {
    const socket = this.socket;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) headers[name.toLowerCase()] = value;
    const body = req.body;
    if (body === undefined) {
      if (HAS_BODY.has(req.method) && headers['content-length'] === undefined) headers['content-length'] = '0';
      socket.write(requestHead(req.method, req.target, req.host, headers), 'latin1');
      onSent();
      return undefined;
    }
    if (typeof body === 'string' || Buffer.isBuffer(body)) {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      headers['content-length'] = String(bytes.length);
      delete headers['transfer-encoding'];
      const head = Buffer.from(requestHead(req.method, req.target, req.host, headers), 'latin1');
      socket.write(bytes.length <= 64 * 1024 ? Buffer.concat([head, bytes]) : head);
      if (bytes.length > 64 * 1024) socket.write(bytes);
      onSent();
      return undefined;
    }
    return this.writeStream(req, headers, body, onSent, onError);
  }

  private writeStream(
    req: ExchangeRequest, headers: Record<string, string>, source: Readable, onSent: () => void, onError: (err: Error) => void,
  ): () => void {
    const socket = this.socket;
    const declared = headers['content-length'];
    const expected = declared === undefined ? undefined : Number(declared);
    if (expected === undefined) headers['transfer-encoding'] = 'chunked';
    const tap = req.tap;
    let sent = 0;
    const onData = (chunk: Buffer | string): void => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      // An empty chunk would be written as `0\r\n\r\n`, the end of a chunked body.
      if (bytes.length === 0) return;
      sent += bytes.length;
      if (tap) {
        try {
          tap.chunk(bytes);
        } catch (e) {
          detach();
          onError(e as Error);
          return;
        }
      }
      if (expected !== undefined && sent > expected) {
        detach();
        onError(new HttpClientError(`request body is longer than its Content-Length ${expected}`, 'HTTP_BODY_LENGTH'));
        return;
      }
      let ok: boolean;
      if (expected === undefined) {
        socket.cork();
        socket.write(`${bytes.length.toString(16)}\r\n`, 'latin1');
        socket.write(bytes);
        ok = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else {
        ok = socket.write(bytes);
      }
      if (!ok) source.pause();
    };
    const onDrain = (): void => {
      source.resume();
    };
    const onEnd = (): void => {
      detach();
      try {
        tap?.end();
      } catch (e) {
        onError(e as Error);
        return;
      }
      if (expected !== undefined && sent !== expected) {
        onError(new HttpClientError(`request body ended after ${sent} of its Content-Length ${expected} bytes`, 'HTTP_BODY_LENGTH'));
        return;
      }
      if (expected === undefined) socket.write('0\r\n\r\n', 'latin1');
      onSent();
    };
    // The body's own error (a digest mismatch, a failed source registry) is the request's error.
    const onSourceError = (err: Error): void => {
      detach();
      onError(err);
    };
    const onSourceClose = (): void => {
      if (!source.readableEnded) onSourceError(source.errored ?? new HttpClientError('request body stream closed before its end', 'HTTP_BODY_LENGTH'));
    };
    const detach = (): void => {
      source.pause();
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onSourceError);
      source.off('close', onSourceClose);
      socket.off('drain', onDrain);
    };
    if (source.destroyed || source.errored) {
      throw source.errored ?? new HttpClientError('request body stream was destroyed before it was sent', 'HTTP_BODY_LENGTH');
    }
    socket.write(requestHead(req.method, req.target, req.host, headers), 'latin1');
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', onSourceError);
    source.on('close', onSourceClose);
    socket.on('drain', onDrain);
    source.resume();
    return detach;
  }
}
