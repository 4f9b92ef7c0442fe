// Signatures, SBOMs and attestations pushed the way clients push them, over the plain
// registry API (fetch; not ferry's client, which is what the tests check):
// - OCI 1.1 artifact manifests with `subject`, pushed by digest; on a registry without the
//   referrers API the client then maintains the subject's referrers tag index
//   (`sha256-<hex>`) itself, read-modify-write, as the distribution spec says it must;
// - cosign's legacy signature/attestation tags, `sha256-<hex>.sig` / `.att`.
// And `startReferrersApiServer`: a small test server in front of a real Distribution
// registry that implements `GET /v2/<name>/referrers/<digest>` per the OCI distribution
// spec 1.1 (no registry installed here has that endpoint); everything else is forwarded.
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Blob upload: POST opens a session, one PUT with ?digest= sends the bytes (Distribution 2.8 has no single-POST upload). */
export async function pushBlob(registryUrl: string, repository: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  if (start.status !== 202) throw new Error(`blob upload to ${repository}: POST -> HTTP ${start.status}`);
  const location = new URL(start.headers.get('location')!, registryUrl);
  location.searchParams.set('digest', digest);
  const res = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  if (res.status !== 201) throw new Error(`blob upload to ${repository}: PUT -> HTTP ${res.status} ${await res.text()}`);
  return digest;
}

export async function putManifest(registryUrl: string, repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
  const res = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, { method: 'PUT', headers: { 'content-type': mediaType }, body: bytes });
  if (res.status !== 201) throw new Error(`PUT manifest ${repository}:${reference}: HTTP ${res.status} ${await res.text()}`);
  return sha256(bytes);
}

export async function getManifest(registryUrl: string, repository: string, reference: string): Promise<Buffer | undefined> {
  const res = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, { headers: { accept: `${OCI_INDEX}, ${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json` } });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET manifest ${repository}:${reference}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

export async function headDigest(registryUrl: string, repository: string, reference: string): Promise<string | undefined> {
  const bytes = await getManifest(registryUrl, repository, reference);
  return bytes && sha256(bytes);
}

export interface PushedArtifact {
  digest: string;
  bytes: Buffer;
  descriptor: Descriptor;
}

/**
 * An OCI 1.1 artifact (e.g. an SBOM) referring to `subject`, pushed by digest. With
 * `maintainIndex` (a registry without the referrers API) the client's part follows: the
 * subject's `sha256-<hex>` index gets the artifact's descriptor.
 */
export async function pushArtifact(registryUrl: string, repository: string, subject: Descriptor, opts: { artifactType: string; payload?: string; maintainIndex: boolean }): Promise<PushedArtifact> {
  const empty = Buffer.from('{}');
  const emptyDigest = await pushBlob(registryUrl, repository, empty);
  const payload = Buffer.from(opts.payload ?? `{"artifact":"${opts.artifactType}","at":${Date.now()},"r":${Math.random()}}`);
  const payloadDigest = await pushBlob(registryUrl, repository, payload);
  const annotations = { 'org.opencontainers.image.created': new Date().toISOString() };
  const manifest = {
    schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: opts.artifactType,
    config: { mediaType: OCI_EMPTY, digest: emptyDigest, size: empty.length },
    layers: [{ mediaType: 'application/json', digest: payloadDigest, size: payload.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = await putManifest(registryUrl, repository, sha256(bytes), bytes, OCI_MANIFEST);
  const descriptor: Descriptor = { mediaType: OCI_MANIFEST, digest, size: bytes.length, artifactType: opts.artifactType, annotations };
  if (opts.maintainIndex) await addToReferrersIndex(registryUrl, repository, subject.digest, descriptor);
  return { digest, bytes, descriptor };
}

/** The client's read-modify-write of the referrers tag schema's index. */
export async function addToReferrersIndex(registryUrl: string, repository: string, subject: string, descriptor: Descriptor): Promise<void> {
  const tag = subject.replace(':', '-');
  const current = await getManifest(registryUrl, repository, tag);
  const index = current ? (JSON.parse(current.toString('utf8')) as { manifests: Descriptor[] }) : { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] as Descriptor[] };
  if (!index.manifests.some((d) => d.digest === descriptor.digest)) index.manifests.push(descriptor);
  await putManifest(registryUrl, repository, tag, Buffer.from(JSON.stringify(index)), OCI_INDEX);
}

/** The descriptors of a subject's `sha256-<hex>` index at a registry ([] when there is none). */
export async function referrersIndex(registryUrl: string, repository: string, subject: string): Promise<Descriptor[]> {
  const bytes = await getManifest(registryUrl, repository, subject.replace(':', '-'));
  return bytes ? (JSON.parse(bytes.toString('utf8')) as { manifests: Descriptor[] }).manifests : [];
}

/** A cosign-style signature (simple signing payload) under `sha256-<hex>.<suffix>`, no subject. */
export async function pushCosignTag(registryUrl: string, repository: string, subject: string, suffix: 'sig' | 'att' | 'sbom'): Promise<PushedArtifact> {
  const payload = Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': subject }, type: 'cosign container image signature' }, optional: { n: Math.random() } }));
  const payloadDigest = await pushBlob(registryUrl, repository, payload);
  const config = Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [payloadDigest] } }));
  const configDigest = await pushBlob(registryUrl, repository, config);
  const layerType = suffix === 'sig' ? 'application/vnd.dev.cosign.simplesigning.v1+json' : 'application/vnd.dsse.envelope.v1+json';
  const manifest = {
    schemaVersion: 2, mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: layerType, digest: payloadDigest, size: payload.length, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ-test' } }],
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = await putManifest(registryUrl, repository, `${subject.replace(':', '-')}.${suffix}`, bytes, OCI_MANIFEST);
  return { digest, bytes, descriptor: { mediaType: OCI_MANIFEST, digest, size: bytes.length } };
}

export interface ReferrersApiServer {
  url: string;
  host: string;
  /** Paths of the referrers requests answered. */
  readonly referrersRequests: string[];
  stop(): Promise<void>;
}

/**
 * A test server implementing the OCI 1.1 referrers API in front of a real Distribution
 * registry: manifest PUTs pass through and, when the manifest has a `subject`, it is
 * recorded (as a registry with the API indexes it); `GET /v2/<name>/referrers/<digest>`
 * answers an image index of those descriptors (artifactType from the manifest, else its
 * config's media type; annotations copied), filtered by `?artifactType=` with the
 * `OCI-Filters-Applied: artifactType` header, 200 with an empty list for an unknown
 * subject, as the spec requires. Everything else is forwarded unchanged.
 */
export async function startReferrersApiServer(target: string): Promise<ReferrersApiServer> {
  const upstream = new URL(target);
  const bySubject = new Map<string, Descriptor[]>();
  const referrersRequests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', upstream);
    const referrers = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    if (req.method === 'GET' && referrers) {
      referrersRequests.push(`${url.pathname}${url.search}`);
      const key = `${referrers[1]}@${referrers[2]}`;
      let manifests = bySubject.get(key) ?? [];
      const artifactType = url.searchParams.get('artifactType');
      const headers: Record<string, string> = { 'content-type': OCI_INDEX };
      if (artifactType) {
        manifests = manifests.filter((d) => d.artifactType === artifactType);
        headers['oci-filters-applied'] = 'artifactType';
      }
      res.writeHead(200, headers).end(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const manifestPut = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
      const forward = httpRequest(new URL(`${url.pathname}${url.search}`, upstream), { method: req.method, headers: { ...req.headers, host: upstream.host } }, (up) => {
        if (req.method === 'PUT' && manifestPut && up.statusCode === 201) record(manifestPut[1]!, body, req.headers['content-type'] ?? OCI_MANIFEST);
        const headers = { ...up.headers };
        if (typeof headers.location === 'string') headers.location = headers.location.replace(upstream.origin, `http://${req.headers.host}`);
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      });
      forward.on('error', (e) => res.writeHead(502).end(String(e)));
      forward.end(body);
    });
  });
  function record(repository: string, body: Buffer, mediaType: string): void {
    let json: { subject?: Descriptor; artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> };
    try {
      json = JSON.parse(body.toString('utf8')) as typeof json;
    } catch {
      return;
    }
    if (!json.subject) return;
    const d: Descriptor = { mediaType: mediaType.split(';')[0]!, digest: sha256(body), size: body.length };
    const type = json.artifactType ?? json.config?.mediaType;
    if (type) d.artifactType = type;
    if (json.annotations) d.annotations = json.annotations;
    const key = `${repository}@${json.subject.digest}`;
    const list = bySubject.get(key) ?? [];
    if (!list.some((x) => x.digest === d.digest)) list.push(d);
    bySubject.set(key, list);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    referrersRequests,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
