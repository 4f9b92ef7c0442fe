// Registries backed by object storage answer blob GETs with a redirect to another host.
// The client follows it itself and never sends the registry's Authorization header there.
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../shared/registry/client.js';
import { digestOf, pushRandomImage, type TestImage } from '../testbed/images.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

const creds = { username: 'robot', password: 'red1rect' };
let registry: DistributionRegistry;
let image: TestImage;
let front: Server;
let storage: Server;
let frontUrl: string;
const storageRequests: IncomingHttpHeaders[] = [];
const frontRequests: Array<{ path: string; authorization?: string }> = [];

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
    });
  });
}

beforeAll(async () => {
  registry = await startRegistry({ name: 'redirect', htpasswd: { users: { robot: creds.password } } });
  image = await pushRandomImage(`${registry.host}/team/app:v1`, { layerSizes: [100_000], creds });
  const basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;

  // "Object storage" on another origin: serves blob bytes it fetches from the registry itself.
  storage = createServer((req, res) => {
    storageRequests.push(req.headers);
    const digest = new URL(req.url ?? '/', 'http://x').searchParams.get('blob') ?? '';
    httpRequest(`${registry.url}/v2/team/app/blobs/${digest}`, { headers: { authorization: basic } }, (up) => {
      res.writeHead(up.statusCode ?? 502, { 'content-length': up.headers['content-length'] ?? '0' });
      up.pipe(res);
    }).end();
  });
  const storageUrl = await listen(storage);

  // The registry's front door: blob GETs redirect to storage, everything else is proxied.
  front = createServer((req, res) => {
    const path = req.url ?? '/';
    frontRequests.push({ path, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const blob = /^\/v2\/team\/app\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path);
    if (req.method === 'GET' && blob && req.headers.authorization) {
      res.writeHead(307, { location: `${storageUrl}/bucket/object?blob=${blob[1]}&X-Amz-Signature=abc` });
      res.end();
      return;
    }
    const up = httpRequest(`${registry.url}${path}`, { method: req.method, headers: { ...req.headers, host: registry.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  frontUrl = await listen(front);
});

afterAll(async () => {
  front?.closeAllConnections();
  storage?.closeAllConnections();
  await Promise.all([front, storage].map((s) => new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()))));
  await stopAllRegistries();
});

describe('blob redirects', () => {
  it('follows a redirect to another host for the bytes, without the Authorization header', async () => {
    const client = new RegistryClient({ name: 'front', url: frontUrl, insecure: true, credentials: creds });
    try {
      const layer = image.layers[0]!;
      const { stream, size } = await client.openBlob('team/app', layer.digest);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      expect(size).toBe(layer.size);
      expect(digestOf(Buffer.concat(chunks))).toBe(layer.digest);
      // The registry saw credentials; storage got the signed URL only.
      expect(frontRequests.some((r) => r.path.endsWith(layer.digest) && r.authorization?.startsWith('Basic '))).toBe(true);
      expect(storageRequests).toHaveLength(1);
      expect(storageRequests[0]!.authorization).toBeUndefined();
    } finally {
      await client.close();
    }
  });
});
