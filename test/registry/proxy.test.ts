// Registry requests through a real forward proxy (tinyproxy): an HTTPS registry through a
// CONNECT tunnel, an HTTP one with absolute-form requests, NO_PROXY bypassing it, and a
// proxy that is not there failing in one line that names it. tinyproxy connects upstream
// from 127.0.0.2, so each registry's access log shows which requests came through it.
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/demo/distribution.js';
import { RegistryClient } from '../../shared/registry/client.js';
import { RegistryError } from '../../shared/registry/errors.js';
import { copyImage } from '../../shared/replicate/copy.js';
import { BlobFlights } from '../../shared/replicate/blob-flights.js';
import { MemoryBlobIndex } from '../../shared/replicate/blob-index.js';
import { startForwardProxy, type ForwardProxy } from '../testbed/forward-proxy.js';
import { digestOf, inspectRaw, pushRandomImage, type TestImage } from '../testbed/images.js';
import { createPrivateCa, type PrivateCa } from '../testbed/pki.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let ca: PrivateCa;
let proxy: ForwardProxy;
let src: DistributionRegistry;
let httpDst: DistributionRegistry;
let httpsDst: DistributionRegistry;
let image: TestImage;
const clients: RegistryClient[] = [];
const PROXY_ENV = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'] as const;
const savedEnv = Object.fromEntries(PROXY_ENV.map((k) => [k, process.env[k]]));

beforeAll(async () => {
  ca = await createPrivateCa('proxy-test');
  [proxy, src, httpDst, httpsDst] = await Promise.all([
    startForwardProxy(),
    startRegistry({ name: 'proxy-src' }),
    startRegistry({ name: 'proxy-http-dst' }),
    startRegistry({ name: 'proxy-https-dst', tls: ca.server }),
  ]);
  image = await pushRandomImage(`${src.host}/team/app:v1`, { layerSizes: [300_000, 200_000] });
}, 120_000);

afterEach(() => {
  for (const key of PROXY_ENV) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await proxy?.stop();
  await stopAllRegistries();
  await ca?.dispose();
});

/** Remote addresses of the access-log lines a registry wrote after `offset` bytes of its log. */
async function accessLogFrom(registry: DistributionRegistry, offset: number): Promise<string[]> {
  const text = (await readFile(registry.logFile, 'utf8')).slice(offset);
  return [...text.matchAll(/^(\d+\.\d+\.\d+\.\d+) - \S+ \[[^\]]+\] "(\S+) (\S+)/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
}

async function logSize(registry: DistributionRegistry): Promise<number> {
  return (await readFile(registry.logFile, 'utf8')).length;
}

function client(registry: DistributionRegistry, extra: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient {
  const c = new RegistryClient({ name: registry.name, url: registry.url, ...extra });
  clients.push(c);
  return c;
}

async function copyTo(destination: RegistryClient, source: RegistryClient, repository: string): Promise<void> {
  await copyImage({
    source: { client: source, repository: 'team/app', reference: 'v1' },
    destination: { client: destination, repository, tag: 'v1' },
    blobConcurrency: 2, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
  });
}

describe('through tinyproxy', () => {
  it('copies to an HTTP registry with every request of both registries sent through the proxy (registry setting)', async () => {
    const [srcAt, dstAt] = [await logSize(src), await logSize(httpDst)];
    const seenBefore = (await proxy.requests()).length;
    await copyTo(client(httpDst, { proxy: proxy.url }), client(src, { proxy: proxy.url }), 'via-proxy/http');
    const srcLog = await accessLogFrom(src, srcAt);
    const dstLog = await accessLogFrom(httpDst, dstAt);
    expect(srcLog.length).toBeGreaterThan(3);
    expect(dstLog.length).toBeGreaterThan(3);
    expect(srcLog.every((l) => l.startsWith(`${proxy.bind} `))).toBe(true);
    expect(dstLog.every((l) => l.startsWith(`${proxy.bind} `))).toBe(true);
    // The proxy saw each of those requests, in absolute form.
    const seen = (await proxy.requests()).slice(seenBefore);
    expect(seen.filter((r) => r.includes(`//${src.host}/`)).length).toBe(srcLog.length);
    expect(seen.filter((r) => r.includes(`//${httpDst.host}/`)).length).toBe(dstLog.length);
    expect(digestOf(await inspectRaw(`${httpDst.host}/via-proxy/http:v1`))).toBe(image.digest);
    expect(seen.some((r) => r.startsWith('PUT ') && r.includes(`//${httpDst.host}/v2/via-proxy/http/blobs/uploads/`))).toBe(true);
  });

  it('copies to a private-CA HTTPS registry through a CONNECT tunnel, from HTTPS_PROXY', async () => {
    process.env.HTTPS_PROXY = proxy.url;
    process.env.HTTP_PROXY = proxy.url;
    const [srcAt, dstAt] = [await logSize(src), await logSize(httpsDst)];
    const seenBefore = (await proxy.requests()).length;
    const source = client(src);
    const destination = client(httpsDst, { tls: { ca: [await readFile(ca.caFile, 'utf8')] } });
    await copyTo(destination, source, 'via-proxy/https');
    const dstLog = await accessLogFrom(httpsDst, dstAt);
    const srcLog = await accessLogFrom(src, srcAt);
    expect(dstLog.length).toBeGreaterThan(3);
    expect(srcLog.every((l) => l.startsWith(`${proxy.bind} `))).toBe(true);
    expect(dstLog.every((l) => l.startsWith(`${proxy.bind} `))).toBe(true);
    const seen = (await proxy.requests()).slice(seenBefore);
    expect(seen).toContain(`CONNECT ${httpsDst.host}`);
    expect(seen.filter((r) => r.includes(`//${src.host}/`)).length).toBe(srcLog.length);
    // Nothing of the HTTPS registry's traffic went through the proxy in the clear.
    expect(seen.some((r) => r.includes(`https://${httpsDst.host}`))).toBe(false);
    expect(digestOf(await inspectRaw(`${httpsDst.host}/via-proxy/https:v1`))).toBe(image.digest);
  });

  it('connects directly to hosts NO_PROXY names', async () => {
    process.env.HTTP_PROXY = proxy.url;
    process.env.NO_PROXY = 'example.invalid,127.0.0.1';
    const [srcAt, dstAt] = [await logSize(src), await logSize(httpDst)];
    const seenBefore = (await proxy.requests()).length;
    await copyTo(client(httpDst), client(src), 'no-proxy/http');
    const logs = [...await accessLogFrom(src, srcAt), ...await accessLogFrom(httpDst, dstAt)];
    expect(logs.length).toBeGreaterThan(6);
    expect(logs.every((l) => l.startsWith('127.0.0.1 '))).toBe(true);
    expect((await proxy.requests()).slice(seenBefore)).toEqual([]);
  });

  it('a proxy that is not there fails in one line naming the proxy, without its credentials', async () => {
    const port = await freePort();
    process.env.HTTP_PROXY = `http://user:s3cret@127.0.0.1:${port}`;
    const error = await client(src, { retry: { attempts: 0, baseDelayMs: 1, maxDelayMs: 1 } }).ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    const message = (error as RegistryError).message;
    expect(message).toContain(`through proxy http://127.0.0.1:${port} (HTTP_PROXY/HTTPS_PROXY; NO_PROXY bypasses it)`);
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).not.toContain('s3cret');
    expect(message).not.toContain('\n');
  });
});
