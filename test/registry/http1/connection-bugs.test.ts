// Regressions the specification tests found in the connection: each of these failed before
// its fix (empty chunks, backpressure vs body timeout, a bad body in the head's packet, a reset
// taken for the end of a length-less body).
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HttpClientError } from '../../../shared/registry/http1/errors.js';
import { delay, readAll, rejection, text, useResources } from './servers.js';

const r = useResources();

describe('connection regressions', () => {
  it('empty chunks from a stream (object mode) do not end a chunked request body early', async () => {
    const got: string[] = [];
    const { url } = await r.http(async (req, res) => {
      got.push((await readAll(req)).toString());
      res.end('ok');
    });
    // Readable.from is in object mode: it passes empty buffers and strings on as chunks.
    const body = Readable.from([Buffer.from('ab'), Buffer.alloc(0), Buffer.from('cd'), '']);
    const res = await r.agent().request({ url: url(), method: 'PUT', headers: {}, body });
    expect(res.status).toBe(200);
    expect(await text(res.body)).toBe('ok');
    expect(got).toEqual(['abcd']);
  });

  it('a reader that pauses longer than bodyTimeoutMs (backpressure) does not time the body out', async () => {
    const big = Buffer.alloc(16 * 1024 * 1024, 7);
    const { url } = await r.http((_req, res) => res.end(big));
    const res = await r.agent({ bodyTimeoutMs: 150 }).request({ url: url(), method: 'GET', headers: {} });
    res.body.on('error', () => undefined);
    await delay(400);
    expect((await readAll(res.body)).equals(big)).toBe(true);
  });

  it('a malformed chunked body arriving with the head rejects the request with HTTP_PROTOCOL (no uncaught error)', async () => {
    const { url, sockets } = await r.raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nbroken\r\n0\r\n\r\n');
    });
    const err = await rejection(r.agent().request({ url: url(), method: 'GET', headers: {} }));
    expect(err).toBeInstanceOf(HttpClientError);
    expect(err.code).toBe('HTTP_PROTOCOL');
    await sockets.allClosed();
  });

  it('a body without a length cut by a connection reset fails with the reset, not as a short body', async () => {
    const { url } = await r.raw((socket) => {
      socket.write('HTTP/1.0 200 OK\r\n\r\npartial');
      setTimeout(() => socket.resetAndDestroy(), 20);
    });
    const res = await r.agent().request({ url: url(), method: 'GET', headers: {} });
    expect((await rejection(readAll(res.body))).code).toBe('ECONNRESET');
  });
});
