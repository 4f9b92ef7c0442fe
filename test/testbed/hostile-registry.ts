// A registry written to misbehave, for cases no real registry shows on demand: blobs that
// trickle, bodies shorter than their Content-Length, redirects to anywhere, pathological
// indexes. It serves the read side of the distribution API (ping, manifests, blobs, tags)
// from what a test put in it, anonymously, and hands chosen blob requests to the test.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export interface StoredManifest {
  mediaType: string;
  bytes: Buffer;
  digest: string;
}

/** Serves a blob request in its own (hostile) way; `bytes` are the blob's real bytes. */
export type BlobHandler = (req: IncomingMessage, res: ServerResponse, bytes: Buffer) => void;

export interface HostileRegistry {
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  requests: Array<{ method: string; path: string }>;
  /** Stores a blob; returns its digest. */
  addBlob(bytes: Buffer): string;
  /** Stores a manifest under its digest and, when given, a tag of `repository`. */
  addManifest(repository: string, manifest: { mediaType: string; bytes: Buffer }, tag?: string): StoredManifest;
  /** From now on, GETs of this blob go to `handler`. */
  onBlob(digest: string, handler: BlobHandler): void;
  /** Requests whose path contains `fragment`. */
  count(method: string, fragment: string): number;
  stop(): Promise<void>;
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export async function startHostileRegistry(): Promise<HostileRegistry> {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, StoredManifest>();
  const handlers = new Map<string, BlobHandler>();
  const requests: Array<{ method: string; path: string }> = [];
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/' });
    req.resume();
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
      return;
    }
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (manifest) {
      const found = manifests.get(`${manifest[1]}|${decodeURIComponent(manifest[2]!)}`);
      if (!found) {
        notFound(res, 'MANIFEST_UNKNOWN');
        return;
      }
      res.writeHead(200, { 'content-type': found.mediaType, 'content-length': String(found.bytes.length), 'docker-content-digest': found.digest });
      res.end(req.method === 'HEAD' ? undefined : found.bytes);
      return;
    }
    const blob = /^\/v2\/.+\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path);
    if (blob) {
      const bytes = blobs.get(blob[1]!);
      if (!bytes) {
        notFound(res, 'BLOB_UNKNOWN');
        return;
      }
      const handler = handlers.get(blob[1]!);
      if (handler && req.method === 'GET') {
        handler(req, res, bytes);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), 'docker-content-digest': blob[1]! });
      res.end(req.method === 'HEAD' ? undefined : bytes);
      return;
    }
    const tags = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    if (tags) {
      const names = [...manifests.keys()].filter((k) => k.startsWith(`${tags[1]}|`) && !k.includes('|sha256:')).map((k) => k.slice(tags[1]!.length + 1));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: tags[1], tags: names }));
      return;
    }
    notFound(res, 'UNSUPPORTED');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    addBlob(bytes) {
      const digest = sha256(bytes);
      blobs.set(digest, bytes);
      return digest;
    },
    addManifest(repository, manifest, tag) {
      const stored = { ...manifest, digest: sha256(manifest.bytes) };
      manifests.set(`${repository}|${stored.digest}`, stored);
      if (tag) manifests.set(`${repository}|${tag}`, stored);
      return stored;
    },
    onBlob(digest, handler) {
      handlers.set(digest, handler);
    },
    count(method, fragment) {
      return requests.filter((r) => r.method === method && r.path.includes(fragment)).length;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function notFound(res: ServerResponse, code: string): void {
  res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] }));
}

export interface SyntheticImage {
  manifest: StoredManifest;
  config: { digest: string; size: number };
  layers: Array<{ digest: string; size: number; bytes: Buffer }>;
}

/** Puts a single-platform OCI image with random layers of the given sizes under `repository:tag`. */
export function addSyntheticImage(registry: HostileRegistry, repository: string, tag: string | undefined, layerSizes: number[]): SyntheticImage {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
  const config = { digest: registry.addBlob(configBytes), size: configBytes.length };
  const layers = layerSizes.map((size) => {
    const bytes = randomBytes(size);
    return { digest: registry.addBlob(bytes), size, bytes };
  });
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  }));
  return { manifest: registry.addManifest(repository, { mediaType: OCI_MANIFEST, bytes }, tag), config, layers };
}

/** Sends `bytes` `chunk` bytes at a time every `everyMs`, with the full Content-Length up front. */
export function trickle(chunk: number, everyMs: number): BlobHandler {
  return (req, res, bytes) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) });
    let offset = 0;
    const timer = setInterval(() => {
      if (res.destroyed) {
        clearInterval(timer);
        return;
      }
      res.write(bytes.subarray(offset, offset + chunk));
      offset += chunk;
      if (offset >= bytes.length) {
        clearInterval(timer);
        res.end();
      }
    }, everyMs);
    req.socket.once('close', () => clearInterval(timer));
  };
}

/** Answers the blob GET with a redirect to `location` (any scheme, any host). */
export function redirectTo(location: string, status = 307): BlobHandler {
  return (_req, res) => {
    res.writeHead(status, { location, 'content-length': '0' }).end();
  };
}

/** Claims `extra` more bytes in Content-Length than it sends, then holds the connection open. */
export function overclaim(extra: number): BlobHandler {
  return (_req, res, bytes) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length + extra) });
    res.write(bytes);
  };
}

/** Sends the blob without a Content-Length (chunked), then never ends the response. */
export function neverEnds(): BlobHandler {
  return (_req, res, bytes) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write(bytes);
  };
}
