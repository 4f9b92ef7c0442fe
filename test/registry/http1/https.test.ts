// HTTPS against a node:https server with a self-signed certificate made here by openssl:
// verified by default, accepted with `insecure`.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAll, rejection, text, useResources } from './servers.js';

const r = useResources();

let dir: string;
let tlsFiles: { key: Buffer; cert: Buffer };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-http1-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'pipe' });
  tlsFiles = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function httpsServer(handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) {
  return r.serve(https.createServer({ ...tlsFiles, keepAliveTimeout: 5000 }, handler), 'https');
}

describe('HTTPS', () => {
  it('refuses a self-signed certificate by default', async () => {
    let requests = 0;
    const { url } = await httpsServer((_req, res) => {
      requests += 1;
      res.end('secret');
    });
    const err = await rejection(r.agent().request({ url: url(), method: 'GET', headers: {} }));
    expect(err.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(requests).toBe(0);
  });

  it('accepts it with insecure: true, and keeps the TLS connection alive for the next request', async () => {
    const { url, sockets } = await httpsServer((req, res) => res.end(`over TLS: ${req.url}`));
    const agent = r.agent({ insecure: true });
    expect(url().protocol).toBe('https:');
    expect(await text((await agent.request({ url: url('/a'), method: 'GET', headers: {} })).body)).toBe('over TLS: /a');
    expect(await text((await agent.request({ url: url('/b'), method: 'GET', headers: {} })).body)).toBe('over TLS: /b');
    expect(sockets.total).toBe(1);
  });

  it('a TLS handshake that never completes fails with HTTP_CONNECT_TIMEOUT and frees the connection slot', async () => {
    // A TCP server that accepts and says nothing: the ClientHello goes unanswered.
    const silent = await r.raw(() => undefined);
    const url = new URL(silent.origin.replace('http:', 'https:'));
    const agent = r.agent({ connections: 1, connectTimeoutMs: 150, insecure: true });
    const started = Date.now();
    const results = await Promise.allSettled([agent.request({ url, method: 'GET', headers: {} }), agent.request({ url, method: 'GET', headers: {} })]);
    expect(results.map((x) => x.status === 'rejected' && (x.reason as { code?: string }).code)).toEqual(['HTTP_CONNECT_TIMEOUT', 'HTTP_CONNECT_TIMEOUT']);
    // One after the other: the second waited for the first's slot.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('streams a request body and a large response body byte-exact over TLS', async () => {
    const download = randomBytes(3 * 1024 * 1024);
    const { url } = await httpsServer(async (req, res) => {
      if (req.method === 'PUT') {
        const body = await readAll(req);
        res.end(createHash('sha256').update(body).digest('hex'));
      } else {
        res.end(download);
      }
    });
    const agent = r.agent({ insecure: true });
    const upload = randomBytes(2 * 1024 * 1024 + 1);
    const chunks = Array.from({ length: 33 }, (_, i) => upload.subarray(i * 65536, (i + 1) * 65536));
    const put = await agent.request({ url: url(), method: 'PUT', headers: { 'Content-Length': String(upload.length) }, body: Readable.from(chunks) });
    expect(await text(put.body)).toBe(createHash('sha256').update(upload).digest('hex'));
    const get = await agent.request({ url: url(), method: 'GET', headers: {} });
    expect((await readAll(get.body)).equals(download)).toBe(true);
  });
});
