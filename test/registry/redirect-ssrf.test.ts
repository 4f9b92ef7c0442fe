// A hostile registry aiming blob redirects at places ferry must not go: other schemes, the
// metadata service, "any address" (0.0.0.0 reaches this very host on Linux), a name that
// re-resolves elsewhere between a check and a connect, an internal page whose error body
// holds a secret. The registry is a hostile test server (no real registry redirects like
// this on demand); the "internal" services are real HTTP servers on loopback that record
// whether ferry reached them. Name resolution for made-up names goes through the client's
// resolver port; everything else is real sockets.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolveAll } from '../../shared/registry/guarded-lookup.js';
import { RegistryClient } from '../../shared/registry/client.js';
import { RegistryError } from '../../shared/registry/errors.js';
import { DEFAULT_RETRY } from '../../shared/registry/transport.js';
import { addSyntheticImage, redirectTo, startHostileRegistry, type HostileRegistry, type SyntheticImage } from '../testbed/hostile-registry.js';
import { ferryCli } from '../e2e/ferry-process.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

interface Internal {
  server: Server;
  port: number;
  hits: string[];
}

/** An HTTP server on `host` that records every request; answers with `status` and `body`. */
async function internal(host: string, status: number, body: string | ((path: string) => Buffer | string), port = 0): Promise<Internal> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '/');
    const payload = typeof body === 'function' ? body(req.url ?? '/') : body;
    res.writeHead(status, { 'content-length': String(Buffer.byteLength(payload)) }).end(payload);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port, hits };
}

let hostile: HostileRegistry;
let image: SyntheticImage;
const servers: Server[] = [];
const clients: RegistryClient[] = [];

function client(resolveAll?: ResolveAll): RegistryClient {
  const c = new RegistryClient({ name: 'hostile', url: hostile.url, insecure: true, ...(resolveAll ? { resolveAll } : {}) });
  clients.push(c);
  return c;
}

async function fetchBlob(c: RegistryClient, digest: string): Promise<Buffer> {
  const { stream } = await c.openBlob('evil/app', digest);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  hostile = await startHostileRegistry();
  image = addSyntheticImage(hostile, 'evil/app', 'v1', [1000]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await hostile?.stop();
  await stopAllRegistries();
});

describe('blob redirects a registry may not give', () => {
  it('refuses ftp:, gopher: and file: targets without connecting anywhere', async () => {
    const trap = await internal('127.0.0.1', 200, 'trap');
    servers.push(trap.server);
    for (const location of [`ftp://127.0.0.1:${trap.port}/x`, `gopher://127.0.0.1:${trap.port}/_GET%20/`, 'file:///etc/passwd']) {
      hostile.onBlob(image.layers[0]!.digest, redirectTo(location));
      const error = await fetchBlob(client(), image.layers[0]!.digest).catch((e: unknown) => e);
      expect(error, location).toBeInstanceOf(RegistryError);
      expect(error).toMatchObject({ registry: 'hostile', code: 'REDIRECT_REFUSED', reference: image.layers[0]!.digest });
      expect((error as RegistryError).transient).toBe(false);
      expect((error as Error).message).toMatch(/is not http: or https:/);
    }
    expect(trap.hits).toEqual([]);
  });

  it('refuses the metadata service and link-local addresses, however spelled', async () => {
    for (const location of ['http://169.254.169.254/latest/meta-data/iam/', 'http://2852039166/', 'http://[fd00:ec2::254]/', 'http://169.254.10.10/']) {
      hostile.onBlob(image.layers[0]!.digest, redirectTo(location));
      const error = await fetchBlob(client(), image.layers[0]!.digest).catch((e: unknown) => e);
      expect(error, location).toMatchObject({ code: 'REDIRECT_REFUSED' });
      expect((error as Error).message).toMatch(/(metadata|link-local) address, never a redirect target/);
    }
  });

  it('refuses 0.0.0.0, which would reach a service on this host', async () => {
    const trap = await internal('127.0.0.1', 200, 'internal admin page');
    servers.push(trap.server);
    hostile.onBlob(image.layers[0]!.digest, redirectTo(`http://0.0.0.0:${trap.port}/admin`));
    const error = await fetchBlob(client(), image.layers[0]!.digest).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'REDIRECT_REFUSED' });
    expect((error as Error).message).toMatch(/0\.0\.0\.0 is a unspecified address/);
    expect(trap.hits).toEqual([]);
  });

  it('judges the address a name resolves to when connecting, in the same lookup (no rebinding in between)', async () => {
    // The name first resolves to storage on 127.0.0.2 (loopback: allowed, the registry is on
    // loopback too), afterwards to 0.0.0.0, which reaches a trap on 127.0.0.1 of the same port.
    const storage = await internal('127.0.0.2', 200, () => image.layers[0]!.bytes);
    servers.push(storage.server);
    const trap = await internal('127.0.0.1', 200, 'trap', storage.port);
    servers.push(trap.server);
    let lookups = 0;
    const rebinding: ResolveAll = (hostname, callback) => {
      if (hostname !== 'storage.rebind.test') {
        callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
        return;
      }
      lookups += 1;
      callback(null, [{ address: lookups === 1 ? '127.0.0.2' : '0.0.0.0', family: 4 }]);
    };
    hostile.onBlob(image.layers[0]!.digest, redirectTo(`http://storage.rebind.test:${storage.port}/bucket/blob?X-Amz-Signature=s3cr3t`));
    const bytes = await fetchBlob(client(rebinding), image.layers[0]!.digest);
    expect(bytes.equals(image.layers[0]!.bytes)).toBe(true);
    expect(lookups).toBe(1);
    expect(storage.hits).toEqual(['/bucket/blob?X-Amz-Signature=s3cr3t']);
    expect(trap.hits).toEqual([]);

    // A name resolving only to refused addresses fails the connection, permanently.
    const metadata: ResolveAll = (_hostname, callback) => callback(null, [{ address: '169.254.169.254', family: 4 }]);
    hostile.onBlob(image.layers[0]!.digest, redirectTo(`http://instance-data.test:${storage.port}/latest/?X-Amz-Signature=s3cr3t`));
    const error = await fetchBlob(client(metadata), image.layers[0]!.digest).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'REDIRECT_REFUSED' });
    expect((error as RegistryError).transient).toBe(false);
    expect((error as Error).message).toBe(
      `registry hostile redirected to http://instance-data.test:${storage.port}/latest/?…, which ferry does not follow: instance-data.test resolves to no allowed address (169.254.169.254 is a metadata address, never a redirect target)`,
    );
  });

  it('never quotes what a redirect target answers, only its status', async () => {
    const page = await internal('127.0.0.1', 500, 'db_password=hunter2 internal stack trace');
    servers.push(page.server);
    hostile.onBlob(image.layers[0]!.digest, redirectTo(`http://127.0.0.1:${page.port}/debug?token=s3cr3t`));
    const error = await fetchBlob(client(), image.layers[0]!.digest).catch((e: unknown) => e);
    expect(error).toMatchObject({ registry: 'hostile', status: 500 });
    expect((error as RegistryError).transient).toBe(true);
    expect((error as Error).message).toBe(
      `GET blob evil/app@${image.layers[0]!.digest} at registry hostile: redirect target http://127.0.0.1:${page.port}/debug?… answered HTTP 500`,
    );
    // A 500 to a read is retried inside the request (as object stores advise), then reported.
    expect(page.hits).toHaveLength(1 + DEFAULT_RETRY.attempts);
  });
});

describe('ferry copy through a hostile redirect', () => {
  let dst: DistributionRegistry;
  beforeAll(async () => {
    dst = await startRegistry({ name: 'ssrf-dst' });
  });

  it('fails with the status only: the internal page body and the URL signature stay out of the output', async () => {
    const page = await internal('127.0.0.1', 403, '<Error>db_password=hunter2</Error>');
    servers.push(page.server);
    hostile.onBlob(image.layers[0]!.digest, redirectTo(`http://127.0.0.1:${page.port}/bucket/blob?X-Amz-Signature=s3cr3t`));
    const run = await ferryCli(['copy', '--insecure', `${hostile.host}/evil/app:v1`, `${dst.host}/mirror/app:v1`], { env: { FERRY_DEBUG: '' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/redirect target http:\/\/127\.0\.0\.1:\d+\/bucket\/blob\?… answered HTTP 403/);
    expect(run.stderr + run.stdout).not.toMatch(/hunter2|s3cr3t/);
  });
});
