// What the client does when there is no proper answer: timeouts, aborts, connections that
// close early, and servers that do not speak HTTP/1.1 properly.
import { getEventListeners, once, setMaxListeners } from 'node:events';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HttpClientError } from '../../../shared/registry/http1/errors.js';
import { delay, readAll, rejection, text, useResources } from './servers.js';

const r = useResources();

describe('timeouts', () => {
  it('no response head within headersTimeoutMs rejects with HTTP_HEADERS_TIMEOUT, the request sent once', async () => {
    let requests = 0;
    const { url, sockets } = await r.http(() => {
      requests += 1;
    });
    const started = Date.now();
    const err = await rejection(r.agent({ headersTimeoutMs: 200 }).request({ url: url(), method: 'GET', headers: {} }));
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(HttpClientError);
    expect(err.code).toBe('HTTP_HEADERS_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1000);
    expect(requests).toBe(1);
    await sockets.allClosed();
  });

  it('a head that trickles in slower than headersTimeoutMs between bytes times out too', async () => {
    const { url } = await r.raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\n');
    });
    const err = await rejection(r.agent({ headersTimeoutMs: 150 }).request({ url: url(), method: 'GET', headers: {} }));
    expect(err.code).toBe('HTTP_HEADERS_TIMEOUT');
  });

  it('a server that stops reading a streamed request body times the request out, saying so', async () => {
    // The raw server never reads: once the socket buffers are full, no byte moves.
    const { url } = await r.raw((socket) => {
      socket.pause();
    });
    const chunk = Buffer.alloc(1024 * 1024, 1);
    const total = 256;
    let produced = 0;
    const body = new Readable({
      read() {
        this.push(produced++ < total ? chunk : null);
      },
    });
    const err = await rejection(r.agent({ headersTimeoutMs: 300 }).request({
      url: url(), method: 'PUT', headers: { 'content-length': String(total * chunk.length) }, body,
    }));
    expect(err.code).toBe('HTTP_HEADERS_TIMEOUT');
    expect(err.message).toMatch(/no progress sending the request body/);
    expect(produced).toBeLessThan(total);
  });

  it('a headers timeout on a reused connection is not retried', async () => {
    let requests = 0;
    const { url } = await r.http((_req, res) => {
      if (++requests === 1) res.end('ok');
    });
    const agent = r.agent({ headersTimeoutMs: 200 });
    await readAll((await agent.request({ url: url(), method: 'GET', headers: {} })).body);
    const started = Date.now();
    const err = await rejection(agent.request({ url: url(), method: 'GET', headers: {} }));
    expect(err.code).toBe('HTTP_HEADERS_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(390);
    expect(requests).toBe(2);
  });

  it('a body that stalls for bodyTimeoutMs fails the body stream with HTTP_BODY_TIMEOUT', async () => {
    const { url, sockets } = await r.http((_req, res) => {
      res.writeHead(200, { 'Content-Length': '1000' });
      res.write('x'.repeat(400));
    });
    const res = await r.agent({ bodyTimeoutMs: 200 }).request({ url: url(), method: 'GET', headers: {} });
    expect(res.status).toBe(200);
    const started = Date.now();
    const err = await rejection(readAll(res.body));
    expect(err).toBeInstanceOf(HttpClientError);
    expect(err.code).toBe('HTTP_BODY_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await sockets.allClosed();
  });

  it('the body timeout is about silence, not total time: a body trickling in keeps going', async () => {
    const { url } = await r.http(async (_req, res) => {
      res.writeHead(200, { 'Content-Length': '8' });
      for (let i = 0; i < 8; i++) {
        res.write('x');
        await delay(50);
      }
      res.end();
    });
    const res = await r.agent({ bodyTimeoutMs: 150 }).request({ url: url(), method: 'GET', headers: {} });
    expect(await text(res.body)).toBe('xxxxxxxx');
  });

  it('a reused connection gets the headers timeout again, not the body timeout of the previous response', async () => {
    let requests = 0;
    const { url } = await r.http(async (_req, res) => {
      requests += 1;
      await delay(requests === 2 ? 250 : 0);
      res.end('ok');
    });
    const agent = r.agent({ headersTimeoutMs: 1000, bodyTimeoutMs: 100 });
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('ok');
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('ok');
  });
});

describe('aborting', () => {
  it('an already aborted signal rejects with its reason and sends nothing', async () => {
    let requests = 0;
    const { url } = await r.http((_req, res) => {
      requests += 1;
      res.end();
    });
    const reason = new Error('job cancelled');
    const err = await rejection(r.agent().request({ url: url(), method: 'GET', headers: {}, signal: AbortSignal.abort(reason) }));
    expect(err).toBe(reason);
    await delay(20);
    expect(requests).toBe(0);
  });

  it('an already aborted signal rejects at once, without waiting for a free connection', async () => {
    const { url } = await r.http(async (_req, res) => {
      await delay(300);
      res.end('ok');
    });
    const agent = r.agent({ connections: 1 });
    const busy = agent.request({ url: url(), method: 'GET', headers: {} });
    await delay(10);
    const reason = new Error('job cancelled');
    const started = Date.now();
    expect(await rejection(agent.request({ url: url(), method: 'GET', headers: {}, signal: AbortSignal.abort(reason) }))).toBe(reason);
    expect(Date.now() - started).toBeLessThan(100);
    expect(await text((await busy).body)).toBe('ok');
  });

  it('an already aborted signal does not spend an idle kept-alive connection', async () => {
    const { url, sockets } = await r.http((_req, res) => res.end('ok'));
    const agent = r.agent();
    await readAll((await agent.request({ url: url(), method: 'GET', headers: {} })).body);
    await rejection(agent.request({ url: url(), method: 'GET', headers: {}, signal: AbortSignal.abort() }));
    await readAll((await agent.request({ url: url(), method: 'GET', headers: {} })).body);
    expect(sockets.total).toBe(1);
  });

  it('a signal shared by many queued requests (one per job) keeps no listener once they are done', async () => {
    const { url } = await r.http((_req, res) => res.end('ok'));
    const agent = r.agent({ connections: 1 });
    const controller = new AbortController();
    // Node warns about more than 10 listeners on one signal; 20 requests queue here at once.
    setMaxListeners(30, controller.signal);
    const bodies = await Promise.all(Array.from({ length: 20 }, async () => text((await agent.request({ url: url(), method: 'GET', headers: {}, signal: controller.signal })).body)));
    expect(bodies.every((b) => b === 'ok')).toBe(true);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('aborting while waiting for the response rejects with the reason at once and closes the connection', async () => {
    const { url, sockets } = await r.http(() => undefined);
    const controller = new AbortController();
    const request = r.agent().request({ url: url(), method: 'GET', headers: {}, signal: controller.signal });
    await delay(20);
    const reason = new Error('stop');
    const started = Date.now();
    controller.abort(reason);
    expect(await rejection(request)).toBe(reason);
    expect(Date.now() - started).toBeLessThan(50);
    await sockets.allClosed();
  });

  it('aborting without a reason rejects with an AbortError', async () => {
    const { url } = await r.http(() => undefined);
    const controller = new AbortController();
    const request = r.agent().request({ url: url(), method: 'GET', headers: {}, signal: controller.signal });
    await delay(10);
    controller.abort();
    expect((await rejection(request)).name).toBe('AbortError');
  });

  it('aborting while the body streams fails the body with the reason; the next request works', async () => {
    const { url, sockets } = await r.http((req, res) => {
      if (req.url === '/slow') {
        res.writeHead(200, { 'Content-Length': '1000' });
        res.write('partial');
      } else {
        res.end('fine');
      }
    });
    const agent = r.agent({ connections: 1 });
    const controller = new AbortController();
    const res = await agent.request({ url: url('/slow'), method: 'GET', headers: {}, signal: controller.signal });
    const reading = rejection(readAll(res.body));
    await delay(10);
    const reason = new Error('cancelled mid-body');
    controller.abort(reason);
    expect(await reading).toBe(reason);
    expect(await text((await agent.request({ url: url('/next'), method: 'GET', headers: {} })).body)).toBe('fine');
    expect(sockets.total).toBe(2);
  });

  it('aborting a request waiting for a connection takes it out of the queue', async () => {
    const order: string[] = [];
    const { url, sockets } = await r.http(async (req, res) => {
      order.push(req.url!);
      await delay(30);
      res.end(req.url);
    });
    const agent = r.agent({ connections: 1 });
    const first = agent.request({ url: url('/1'), method: 'GET', headers: {} });
    const controller = new AbortController();
    const queued = agent.request({ url: url('/2'), method: 'GET', headers: {}, signal: controller.signal });
    const last = agent.request({ url: url('/3'), method: 'GET', headers: {} });
    const reason = new Error('no longer needed');
    controller.abort(reason);
    expect(await rejection(queued)).toBe(reason);
    expect(await text((await first).body)).toBe('/1');
    expect(await text((await last).body)).toBe('/3');
    expect(order).toEqual(['/1', '/3']);
    expect(sockets.total).toBe(1);
  });

  it('a completed request is not affected by a later abort of its signal', async () => {
    const { url, sockets } = await r.http((_req, res) => res.end('done'));
    const agent = r.agent();
    const controller = new AbortController();
    const res = await agent.request({ url: url(), method: 'GET', headers: {}, signal: controller.signal });
    expect(await text(res.body)).toBe('done');
    controller.abort();
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('done');
    expect(sockets.total).toBe(1);
  });
});

describe('connections that end early', () => {
  it('a server closing in the middle of a Content-Length body fails the body with HTTP_SOCKET_CLOSED', async () => {
    const { url } = await r.raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part');
      setTimeout(() => socket.end(), 10);
    });
    const res = await r.agent().request({ url: url(), method: 'GET', headers: {} });
    const err = await rejection(readAll(res.body));
    expect(err).toBeInstanceOf(HttpClientError);
    expect(err.code).toBe('HTTP_SOCKET_CLOSED');
  });

  it('a server closing in the middle of a chunked body fails the body with HTTP_SOCKET_CLOSED', async () => {
    const { url } = await r.raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      setTimeout(() => socket.end(), 10);
    });
    const res = await r.agent().request({ url: url(), method: 'GET', headers: {} });
    expect((await rejection(readAll(res.body))).code).toBe('HTTP_SOCKET_CLOSED');
  });

  it('a server closing before the head is complete rejects with HTTP_SOCKET_CLOSED', async () => {
    const { url } = await r.raw((socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Len');
    });
    const err = await rejection(r.agent().request({ url: url(), method: 'GET', headers: {} }));
    expect(err.code).toBe('HTTP_SOCKET_CLOSED');
  });

  it('a refused connection passes Node\'s ECONNREFUSED through', async () => {
    const { url, server } = await r.http(() => undefined);
    const target = url();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await rejection(r.agent().request({ url: target, method: 'GET', headers: {} }));
    expect(err.code).toBe('ECONNREFUSED');
  });
});

describe('servers that do not speak HTTP/1.1 properly', () => {
  it('a malformed status line rejects with HTTP_PROTOCOL and closes the connection', async () => {
    const { url, sockets } = await r.raw((socket) => {
      socket.write('HTTP/1.1 OK 200\r\nContent-Length: 0\r\n\r\n');
    });
    const err = await rejection(r.agent().request({ url: url(), method: 'GET', headers: {} }));
    expect(err).toBeInstanceOf(HttpClientError);
    expect(err.code).toBe('HTTP_PROTOCOL');
    await sockets.allClosed();
  });

  it('something that is not HTTP at all rejects with HTTP_PROTOCOL', async () => {
    const { url } = await r.raw((socket) => {
      socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n');
    });
    expect((await rejection(r.agent().request({ url: url(), method: 'GET', headers: {} }))).code).toBe('HTTP_PROTOCOL');
  });

  it('conflicting Content-Length headers reject with HTTP_PROTOCOL', async () => {
    const { url } = await r.raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!');
    });
    expect((await rejection(r.agent().request({ url: url(), method: 'GET', headers: {} }))).code).toBe('HTTP_PROTOCOL');
  });

  it('a 101 Switching Protocols nobody asked for rejects with HTTP_PROTOCOL', async () => {
    const { url } = await r.raw((socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
    });
    expect((await rejection(r.agent().request({ url: url(), method: 'GET', headers: {} }))).code).toBe('HTTP_PROTOCOL');
  });

  it('a response head larger than 64 KiB rejects with HTTP_PROTOCOL', async () => {
    const { url } = await r.raw((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\n${'X-Filler: '.padEnd(1000, 'f')}\r\n`.repeat(70));
    });
    expect((await rejection(r.agent().request({ url: url(), method: 'GET', headers: {} }))).code).toBe('HTTP_PROTOCOL');
  });

  it('a malformed chunk size later in the body fails the body stream with HTTP_PROTOCOL', async () => {
    const { url, sockets } = await r.raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      setTimeout(() => socket.write('zz\r\nbroken\r\n0\r\n\r\n'), 20);
    });
    const res = await r.agent().request({ url: url(), method: 'GET', headers: {} });
    const body = res.body;
    const chunks: Buffer[] = [];
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    const [err] = (await once(body, 'error')) as [HttpClientError];
    expect(err).toBeInstanceOf(HttpClientError);
    expect(err.code).toBe('HTTP_PROTOCOL');
    expect(Buffer.concat(chunks).toString()).toBe('hello');
    await sockets.allClosed();
  });

  it('a chunked body from a raw server, with extensions and trailers, is read and the connection kept', async () => {
    const { url, sockets } = await r.raw((socket) => {
      const bytes = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: 1\r\n\r\n';
      // One byte per write: every boundary gets its own packet, or close to it.
      let at = 0;
      const next = (): void => {
        if (at < bytes.length) socket.write(bytes[at++]!, next);
      };
      next();
    });
    const agent = r.agent();
    for (let i = 0; i < 2; i++) expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('abcde');
    expect(sockets.total).toBe(1);
  });
});
