// Http1Agent against real servers on loopback: how responses are read, when connections are
// kept, reused, retried and limited, and what close() does. Request bodies, timeouts, aborts
// and protocol failures have their own files.
import { once } from 'node:events';
import type http from 'node:http';
import { describe, expect, it } from 'vitest';
import { HttpClientError } from '../../../shared/registry/http1/errors.js';
import { delay, readAll, rejection, text, useResources } from './servers.js';

const r = useResources();

describe('reading responses', () => {
  it('GET returns the status, lower-cased headers (repeated ones as arrays) and a Content-Length body', async () => {
    const seen: http.IncomingMessage[] = [];
    const { url, origin } = await r.http((req, res) => {
      seen.push(req);
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('X-Multi', ['a', 'b']);
      res.end('hello world');
    });
    const agent = r.agent();
    const res = await agent.request({ url: url('/v2/team/app/tags/list?n=10'), method: 'GET', headers: { Accept: 'text/plain', 'X-Trace': 't-1' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.headers['content-length']).toBe('11');
    expect(res.headers['x-multi']).toEqual(['a', 'b']);
    expect(await text(res.body)).toBe('hello world');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('GET');
    expect(seen[0]!.url).toBe('/v2/team/app/tags/list?n=10');
    expect(seen[0]!.headers.host).toBe(new URL(origin).host);
    expect(seen[0]!.headers.accept).toBe('text/plain');
    expect(seen[0]!.headers['x-trace']).toBe('t-1');
  });

  it('reads a chunked body that a node:http server writes in several pieces', async () => {
    const big = Buffer.alloc(300 * 1024, 'x');
    const { url } = await r.http(async (_req, res) => {
      res.write('first,');
      await delay(5);
      res.write(big);
      await delay(5);
      res.write('');
      res.end(',last');
    });
    const res = await r.agent().request({ url: url(), method: 'GET', headers: {} });
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-length']).toBeUndefined();
    const body = await readAll(res.body);
    expect(body.equals(Buffer.concat([Buffer.from('first,'), big, Buffer.from(',last')]))).toBe(true);
  });

  it('HEAD returns Content-Length without a body, and the connection serves the next request', async () => {
    const { url, sockets } = await r.http((req, res) => {
      res.writeHead(200, { 'Content-Length': '1048576', 'Docker-Content-Digest': 'sha256:abc' });
      res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1048576));
    });
    const agent = r.agent();
    const head = await agent.request({ url: url('/blob'), method: 'HEAD', headers: {} });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('1048576');
    expect(head.headers['docker-content-digest']).toBe('sha256:abc');
    expect(await readAll(head.body)).toHaveLength(0);
    const get = await agent.request({ url: url('/blob'), method: 'GET', headers: {} });
    expect(await readAll(get.body)).toHaveLength(1048576);
    expect(sockets.total).toBe(1);
  });

  it('204 and 304 responses end without a body and keep the connection', async () => {
    const { url, sockets } = await r.http((req, res) => {
      res.writeHead(req.url === '/gone' ? 204 : req.url === '/same' ? 304 : 200);
      res.end(req.url === '/ok' ? 'ok' : undefined);
    });
    const agent = r.agent();
    const noContent = await agent.request({ url: url('/gone'), method: 'DELETE', headers: {} });
    expect(noContent.status).toBe(204);
    expect(await text(noContent.body)).toBe('');
    const notModified = await agent.request({ url: url('/same'), method: 'GET', headers: {} });
    expect(notModified.status).toBe(304);
    expect(await text(notModified.body)).toBe('');
    const ok = await agent.request({ url: url('/ok'), method: 'GET', headers: {} });
    expect(await text(ok.body)).toBe('ok');
    expect(sockets.total).toBe(1);
  });

  it('skips interim 100 Continue and 102 Processing responses from a node:http server and returns the final one', async () => {
    const { url } = await r.http(async (_req, res) => {
      res.writeContinue();
      res.writeProcessing();
      await delay(20);
      res.writeHead(201, { 'X-Final': 'yes' });
      res.end('created');
    });
    const res = await r.agent().request({ url: url(), method: 'POST', headers: {} });
    expect(res.status).toBe(201);
    expect(res.headers['x-final']).toBe('yes');
    expect(await text(res.body)).toBe('created');
  });

  it('skips interim responses arriving in the same packet as the final one, or split anywhere, and keeps the connection', async () => {
    const bytes = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n'
      + 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal';
    const { url, sockets } = await r.raw((socket, req) => {
      const at = Number(req.target.slice(1));
      if (at === 0) {
        socket.write(bytes);
      } else {
        socket.write(bytes.slice(0, at));
        setTimeout(() => socket.write(bytes.slice(at)), 2);
      }
    });
    const agent = r.agent({ connections: 1 });
    for (const at of [0, 10, 24, 25, 26, 60, 90, 98, 120, bytes.length - 1]) {
      const res = await agent.request({ url: url(`/${at}`), method: 'GET', headers: {} });
      expect(res.status, `split at ${at}`).toBe(200);
      expect(res.headers.link).toBeUndefined();
      expect(await text(res.body)).toBe('final');
    }
    expect(sockets.total).toBe(1);
  });

  it('reads an HTTP/1.0 response without a length until the server closes, then uses a new connection', async () => {
    const { url, sockets } = await r.raw((socket, req) => {
      socket.write('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of ');
      setTimeout(() => socket.end(`this (${req.target})`), 10);
    });
    const agent = r.agent();
    const first = await agent.request({ url: url('/1'), method: 'GET', headers: {} });
    expect(await text(first.body)).toBe('all of this (/1)');
    const second = await agent.request({ url: url('/2'), method: 'GET', headers: {} });
    expect(await text(second.body)).toBe('all of this (/2)');
    expect(sockets.total).toBe(2);
  });

  it('keeps an HTTP/1.0 connection that says Connection: keep-alive and has a length', async () => {
    const { url, sockets } = await r.raw((socket) => {
      socket.write('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok');
    });
    const agent = r.agent();
    for (let i = 0; i < 3; i++) expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('ok');
    expect(sockets.total).toBe(1);
  });
});

describe('keep-alive', () => {
  it('sends sequential requests over one connection', async () => {
    const sockets = new Set<unknown>();
    const { url } = await r.http((req, res) => {
      sockets.add(req.socket);
      res.end(req.url);
    });
    const agent = r.agent();
    expect(await text((await agent.request({ url: url('/a'), method: 'GET', headers: {} })).body)).toBe('/a');
    expect(await text((await agent.request({ url: url('/b'), method: 'GET', headers: {} })).body)).toBe('/b');
    expect(sockets.size).toBe(1);
  });

  it('does not reuse a connection after Connection: close', async () => {
    const { url, sockets } = await r.http((_req, res) => {
      res.setHeader('Connection', 'close');
      res.end('bye');
    });
    const agent = r.agent();
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('bye');
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('bye');
    expect(sockets.total).toBe(2);
  });

  it('does not reuse a connection that carried bytes beyond the response', async () => {
    const { url, sockets } = await r.raw((socket, req) => {
      socket.write(req.target === '/204' ? 'HTTP/1.1 204 No Content\r\n\r\nstray' : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokstray');
    });
    const agent = r.agent();
    expect(await text((await agent.request({ url: url('/200'), method: 'GET', headers: {} })).body)).toBe('ok');
    expect((await agent.request({ url: url('/204'), method: 'GET', headers: {} })).status).toBe(204);
    expect(await text((await agent.request({ url: url('/200'), method: 'GET', headers: {} })).body)).toBe('ok');
    expect(sockets.total).toBe(3);
  });

  it('drops an idle connection on which the server sends unrequested bytes', async () => {
    const { url, sockets } = await r.raw((socket, req) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      if (req.index === 0) setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale'), 10);
    });
    const agent = r.agent();
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('ok');
    await sockets.allClosed();
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('ok');
    expect(sockets.total).toBe(2);
  });

  it('a connection the server closed while idle is not used again', async () => {
    const { url, sockets } = await r.raw((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      setTimeout(() => socket.destroy(), 5);
    });
    const agent = r.agent();
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('ok');
    await sockets.allClosed();
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('ok');
    expect(sockets.total).toBe(2);
  });

  it('a node:http server closing idle connections (keepAliveTimeout) does not fail the next request', async () => {
    const { url, sockets, server } = await r.http((_req, res) => res.end('ok'));
    server.keepAliveTimeout = 50;
    // Node announces `Keep-Alive: timeout=0` for that, so let the agent keep it for its own time.
    const agent = r.agent();
    for (let i = 0; i < 3; i++) {
      expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('ok');
      await sockets.allClosed();
    }
    expect(sockets.total).toBe(3);
  });

  it('a reused connection that the server closes on receiving the request is retried once on a new connection (GET and a Buffer PUT)', async () => {
    const perSocket = new Map<unknown, number>();
    const received: string[] = [];
    const { url, sockets } = await r.http(async (req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      const body = await text(req);
      received.push(`${req.method} ${req.url} ${body}`);
      // The race a keep-alive client cannot avoid: the server gave up on the connection just
      // as the next request arrived on it.
      if (n === 2) req.socket.destroy();
      else res.end(`${req.method} ok`);
    });
    const agent = r.agent();
    expect(await text((await agent.request({ url: url('/1'), method: 'GET', headers: {} })).body)).toBe('GET ok');
    expect(await text((await agent.request({ url: url('/2'), method: 'GET', headers: {} })).body)).toBe('GET ok');
    expect(await text((await agent.request({ url: url('/3'), method: 'PUT', headers: {}, body: Buffer.from('data') })).body)).toBe('PUT ok');
    expect(await text((await agent.request({ url: url('/4'), method: 'PUT', headers: {}, body: 'text' })).body)).toBe('PUT ok');
    expect(received).toEqual(['GET /1 ', 'GET /2 ', 'GET /2 ', 'PUT /3 data', 'PUT /3 data', 'PUT /4 text', 'PUT /4 text']);
    expect(sockets.total).toBe(4);
  });

  it('a failure on a new connection is not retried', async () => {
    let requests = 0;
    const { url } = await r.http((req) => {
      requests += 1;
      req.socket.destroy();
    });
    const err = await rejection(r.agent().request({ url: url(), method: 'GET', headers: {} }));
    expect(err).toBeInstanceOf(HttpClientError);
    expect(err.code).toBe('HTTP_SOCKET_CLOSED');
    expect(requests).toBe(1);
  });

  it('honours the server\'s Keep-Alive: timeout, keeping a margin of a second', async () => {
    const { url, sockets } = await r.raw((socket, req) => {
      socket.write(`HTTP/1.1 200 OK\r\nKeep-Alive: timeout=${req.target.slice(1)}\r\nContent-Length: 2\r\n\r\nok`);
    });
    const agent = r.agent();
    // timeout=1: less than the margin, so the connection is closed at once.
    expect(await text((await agent.request({ url: url('/1'), method: 'GET', headers: {} })).body)).toBe('ok');
    await sockets.allClosed();
    expect(await text((await agent.request({ url: url('/2'), method: 'GET', headers: {} })).body)).toBe('ok');
    expect(await text((await agent.request({ url: url('/2'), method: 'GET', headers: {} })).body)).toBe('ok');
    expect(sockets.total).toBe(2);
    expect(sockets.open).toBe(1);
  });

  it('closes a connection left idle longer than keepAliveMs', async () => {
    const { url, sockets } = await r.http((_req, res) => res.end('ok'));
    const agent = r.agent({ keepAliveMs: 50 });
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('ok');
    expect(sockets.open).toBe(1);
    const started = Date.now();
    await sockets.allClosed();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toBe('ok');
    expect(sockets.total).toBe(2);
  });

  it('an idle kept-alive connection does not keep the process alive', async () => {
    let finish!: () => void;
    const { url, server, sockets } = await r.http((_req, res) => {
      res.writeHead(200, { 'Content-Length': '4' });
      res.write('ok');
      finish = () => res.end('ok');
    });
    // Only the client's sockets should count: the server's side is unref'd here.
    server.on('connection', (socket) => socket.unref());
    const clientSockets = () => process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;
    await delay(5);
    const before = clientSockets();
    const agent = r.agent();
    for (let i = 0; i < 2; i++) {
      const res = await agent.request({ url: url(), method: 'GET', headers: {} });
      // Busy: the connection holds the process until the response is complete.
      expect(clientSockets()).toBe(before + 1);
      finish();
      expect(await text(res.body)).toBe('okok');
      // Idle: kept open, but not holding the process.
      expect(sockets.open).toBe(1);
      expect(clientSockets()).toBe(before);
    }
    expect(sockets.total).toBe(1);
  });
});

describe('connection limits', () => {
  it('never opens more than `connections` to an origin; the rest wait and all complete', async () => {
    const { url, sockets } = await r.http(async (req, res) => {
      await delay(40);
      res.end(req.url);
    });
    const agent = r.agent({ connections: 2 });
    const bodies = await Promise.all([0, 1, 2, 3, 4].map(async (i) => text((await agent.request({ url: url(`/${i}`), method: 'GET', headers: {} })).body)));
    expect(bodies).toEqual(['/0', '/1', '/2', '/3', '/4']);
    expect(sockets.maxOpen).toBe(2);
    expect(sockets.total).toBe(2);
  });

  it('serves waiting requests in the order they were made', async () => {
    const order: string[] = [];
    const { url, sockets } = await r.http(async (req, res) => {
      order.push(req.url!);
      await delay(5);
      res.end();
    });
    const agent = r.agent({ connections: 1 });
    await Promise.all(['/a', '/b', '/c', '/d'].map(async (path) => readAll((await agent.request({ url: url(path), method: 'GET', headers: {} })).body)));
    expect(order).toEqual(['/a', '/b', '/c', '/d']);
    expect(sockets.total).toBe(1);
  });

  it('a connection whose body is still being read is not lent to another request', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 'b');
    const { url, sockets } = await r.http((req, res) => res.end(req.url === '/big' ? big : 'small'));
    const agent = r.agent({ connections: 2 });
    const first = await agent.request({ url: url('/big'), method: 'GET', headers: {} });
    await delay(5);
    const second = await agent.request({ url: url('/small'), method: 'GET', headers: {} });
    expect(await text(second.body)).toBe('small');
    expect((await readAll(first.body)).equals(big)).toBe(true);
    expect(sockets.total).toBe(2);
  });

  it('a response whose body arrived in full frees its connection before the body is read', async () => {
    const { url, sockets } = await r.http((req, res) => res.end(`body of ${req.url}`));
    const agent = r.agent({ connections: 1 });
    const first = await agent.request({ url: url('/1'), method: 'GET', headers: {} });
    const second = await agent.request({ url: url('/2'), method: 'GET', headers: {} });
    expect(await text(second.body)).toBe('body of /2');
    expect(await text(first.body)).toBe('body of /1');
    expect(sockets.total).toBe(1);
  });

  it('limits each origin separately', async () => {
    let arrived = 0;
    let release!: () => void;
    const bothArrived = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handler: http.RequestListener = async (_req, res) => {
      if (++arrived === 2) release();
      // Neither answers until both requests are in: with a shared limit of 1 this would time out.
      await bothArrived;
      res.end('ok');
    };
    const a = await r.http(handler);
    const b = await r.http(handler);
    const agent = r.agent({ connections: 1 });
    const results = await Promise.all([a, b].map(async (s) => text((await agent.request({ url: s.url(), method: 'GET', headers: {} })).body)));
    expect(results).toEqual(['ok', 'ok']);
  });

  it('a failed connect frees its slot for the requests waiting behind it', async () => {
    const closed = await r.http(() => undefined);
    const origin = closed.url();
    await new Promise<void>((resolve) => closed.server.close(() => resolve()));
    const agent = r.agent({ connections: 1 });
    const results = await Promise.allSettled([0, 1, 2].map(() => agent.request({ url: origin, method: 'GET', headers: {} })));
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason.code).toBe('ECONNREFUSED');
    }
  });
});

describe('close()', () => {
  it('rejects new requests with HTTP_CLIENT_CLOSED and closes idle connections', async () => {
    const { url, sockets } = await r.http((_req, res) => res.end('ok'));
    const agent = r.agent();
    await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body);
    expect(sockets.open).toBe(1);
    await agent.close();
    await sockets.allClosed();
    const err = await rejection(agent.request({ url: url(), method: 'GET', headers: {} }));
    expect(err).toBeInstanceOf(HttpClientError);
    expect(err.code).toBe('HTTP_CLIENT_CLOSED');
    expect(sockets.total).toBe(1);
  });

  it('lets a request in flight finish, then closes its connection, and rejects the ones waiting', async () => {
    let respond!: () => void;
    const { url, sockets } = await r.http((_req, res) => {
      respond = () => res.end('finished');
    });
    const agent = r.agent({ connections: 1 });
    const inFlight = agent.request({ url: url('/1'), method: 'GET', headers: {} });
    const waiting = agent.request({ url: url('/2'), method: 'GET', headers: {} });
    while (!respond) await delay(1);
    await agent.close();
    const err = await rejection(waiting);
    expect(err.code).toBe('HTTP_CLIENT_CLOSED');
    respond();
    expect(await text((await inFlight).body)).toBe('finished');
    await sockets.allClosed();
    expect(sockets.total).toBe(1);
  });
});

describe('the response body as a stream', () => {
  it('a body destroyed by its reader half-way closes that connection; later requests work', async () => {
    const { url, sockets } = await r.http((req, res) => {
      if (req.url === '/big') res.end(Buffer.alloc(4 * 1024 * 1024, 1));
      else res.end('small');
    });
    const agent = r.agent({ connections: 1 });
    const big = await agent.request({ url: url('/big'), method: 'GET', headers: {} });
    const [first] = (await once(big.body, 'data')) as [Buffer];
    expect(first.length).toBeGreaterThan(0);
    big.body.destroy();
    await once(big.body, 'close');
    expect(await text((await agent.request({ url: url('/small'), method: 'GET', headers: {} })).body)).toBe('small');
    expect(sockets.total).toBe(2);
    expect(sockets.open).toBe(1);
  });

  it('a body destroyed with an error by its reader reports that error to the reader only', async () => {
    const { url } = await r.http((_req, res) => res.end(Buffer.alloc(2 * 1024 * 1024)));
    const agent = r.agent();
    const res = await agent.request({ url: url(), method: 'GET', headers: {} });
    const mine = new Error('consumer gave up');
    res.body.destroy(mine);
    const [err] = (await once(res.body, 'error').catch((e: unknown) => [e])) as [Error];
    expect(err).toBe(mine);
    expect(await text((await agent.request({ url: url(), method: 'GET', headers: {} })).body)).toHaveLength(2 * 1024 * 1024);
  });

  it('dump() of a small body reads it and keeps the connection', async () => {
    const { url, sockets } = await r.http((_req, res) => res.end('x'.repeat(1000)));
    const agent = r.agent();
    await (await agent.request({ url: url(), method: 'GET', headers: {} })).body.dump();
    await (await agent.request({ url: url(), method: 'GET', headers: {} })).body.dump();
    expect(sockets.total).toBe(1);
  });

  it('dump() of a large body closes the connection instead of reading it all; the next request works', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    let finished: boolean | undefined;
    const { url, sockets } = await r.http((req, res) => {
      if (req.url !== '/huge') {
        res.end('next');
        return;
      }
      res.writeHead(200, { 'Content-Length': String(total) });
      const chunk = Buffer.alloc(64 * 1024);
      const write = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', write);
            return;
          }
        }
        res.end();
      };
      res.on('close', () => {
        finished = res.writableFinished;
      });
      write();
    });
    const agent = r.agent();
    const huge = await agent.request({ url: url('/huge'), method: 'GET', headers: {} });
    await huge.body.dump();
    expect(await text((await agent.request({ url: url('/next'), method: 'GET', headers: {} })).body)).toBe('next');
    while (finished === undefined) await delay(1);
    expect(finished).toBe(false);
    expect(written).toBeLessThan(total);
    expect(sockets.total).toBe(2);
  });

  it('dump() of a body without content resolves at once', async () => {
    const { url } = await r.http((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    const res = await r.agent().request({ url: url(), method: 'GET', headers: {} });
    await res.body.dump();
    await res.body.dump();
  });
});
