// Blob HEAD, streaming GET (redirects followed by hand so credentials never leave the
// registry's origin), cross-repository mount, and uploads: one streamed monolithic PUT, or
// chunked PATCHes that resume from the registry's offset after an interruption. Bytes are
// verified against the digest as they pass; bad bytes never complete an upload.
import { PassThrough, pipeline, type Readable } from 'node:stream';
import { repositoryScope } from './auth.js';
import type { BandwidthLimiter } from './bandwidth.js';
import { DigestVerifier, verifyingStream } from './digest.js';
import { RegistryError } from './errors.js';
import type { RegistrySession } from './session.js';
import type { TransportResponse } from './transport.js';

export interface BlobDescriptor {
  digest: string;
  size: number;
}

export interface UploadOptions {
  /** Blobs larger than this go up in chunks (default 64 MiB). */
  chunkThreshold?: number;
  /** Chunk size for chunked uploads (default 16 MiB); each chunk is buffered once. */
  chunkSize?: number;
  /** How many times one chunk may be resumed after a failure (default 3). */
  maxResumes?: number;
  /** An upload session already opened (e.g. by a mount request answered 202). */
  location?: string;
  signal?: AbortSignal;
  /** Where the bytes come from, named in a DigestMismatchError (default: the destination). */
  origin?: { registry: string; repository: string };
  /** Called with each chunk's byte count as it leaves for the destination. */
  onBytes?: (bytes: number) => void;
}

export const DEFAULT_CHUNK_THRESHOLD = 64 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;
const MAX_REDIRECTS = 5;

function blobPath(repository: string, digest: string): string {
  return `/v2/${repository}/blobs/${digest}`;
}

function signalOpt(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

/** HEAD a blob; 404 -> undefined. */
export async function headBlob(session: RegistrySession, repository: string, digest: string, signal?: AbortSignal): Promise<{ size: number | undefined } | undefined> {
  const res = await session.request({
    method: 'HEAD', url: blobPath(repository, digest), scopes: [repositoryScope(repository, ['pull'])],
    context: { repository, reference: digest }, ...signalOpt(signal),
  });
  // Registries backed by object storage may answer a blob HEAD with a redirect: it exists.
  if (isRedirect(res.status)) {
    await res.body.dump().catch(() => undefined);
    return { size: undefined };
  }
  await res.body.dump().catch(() => undefined);
  if (res.status === 404) return undefined;
  if (res.status !== 200) {
    throw new RegistryError(`HEAD blob ${repository}@${digest} at registry ${session.registry} -> HTTP ${res.status}`, {
      registry: session.registry, repository, reference: digest, status: res.status,
    });
  }
  const length = Number(res.header('content-length'));
  return { size: Number.isFinite(length) ? length : undefined };
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/**
 * Streams a blob. Redirects are followed here, and the Authorization header goes only to
 * the registry's own origin. Stream failures surface as RegistryErrors of this registry.
 */
export async function openBlob(
  session: RegistrySession, repository: string, digest: string,
  options: { signal?: AbortSignal; throttle?: BandwidthLimiter } = {},
): Promise<{ stream: Readable; size: number | undefined }> {
  const context = { repository, reference: digest };
  let url = session.resolve(blobPath(repository, digest));
  let res: TransportResponse | undefined;
  for (let hop = 0; ; hop++) {
    res = session.sameOrigin(url)
      ? await session.request({ method: 'GET', url, scopes: [repositoryScope(repository, ['pull'])], context, lane: 'download', ...signalOpt(options.signal) })
      : await session.transport.request({ method: 'GET', url, context, lane: 'download', ...signalOpt(options.signal) });
    if (!isRedirect(res.status)) break;
    const location = res.header('location');
    await res.body.dump().catch(() => undefined);
    if (!location || hop >= MAX_REDIRECTS) {
      throw session.error(`GET blob ${repository}@${digest} at registry ${session.registry}: ${location ? 'too many redirects' : 'redirect without Location'}`, {
        ...context, status: res.status,
      });
    }
    url = new URL(location, url);
  }
  if (res.status !== 200) {
    if (res.status === 404) {
      await res.body.dump().catch(() => undefined);
      throw session.error(`blob ${repository}@${digest} not found at registry ${session.registry}`, { ...context, status: 404, code: 'BLOB_UNKNOWN' });
    }
    return session.fail(res, { method: 'GET', ...context }, `GET blob ${repository}@${digest}`);
  }
  const length = Number(res.header('content-length'));
  const body = res.body;
  const finalUrl = url;
  const out = options.throttle && !options.throttle.unlimited ? options.throttle.stream() : new PassThrough({ highWaterMark: 1024 * 1024 });
  // A failing source stream surfaces as an error of the source registry, not of whoever reads it.
  body.on('error', (err) => out.destroy(session.transport.networkError(err, 'GET', finalUrl, context) as Error));
  out.on('close', () => {
    if (!body.destroyed) body.destroy();
  });
  body.pipe(out);
  return { stream: out, size: Number.isFinite(length) ? length : undefined };
}

export type MountResult = { mounted: true } | { mounted: false; location: string };

/** Cross-repository mount. 201 = mounted; 202 = the registry started an ordinary upload instead. */
export async function mountBlob(session: RegistrySession, repository: string, digest: string, from: string, signal?: AbortSignal): Promise<MountResult> {
  const url = session.resolve(`/v2/${repository}/blobs/uploads/`);
  url.searchParams.set('mount', digest);
  url.searchParams.set('from', from);
  const res = await session.request({
    method: 'POST', url, headers: { 'content-length': '0' },
    scopes: [repositoryScope(repository, ['pull', 'push']), repositoryScope(from, ['pull'])],
    context: { repository, reference: digest }, ...signalOpt(signal),
  });
  if (res.status === 201) {
    await res.body.dump();
    return { mounted: true };
  }
  if (res.status === 202) {
    await res.body.dump();
    return { mounted: false, location: requireLocation(session, res, repository, digest) };
  }
  return session.fail(res, { method: 'POST', repository, reference: digest }, `mount blob ${digest} from ${from} into ${repository}`);
}

/** POST to open an upload session; returns its Location. */
export async function startUpload(session: RegistrySession, repository: string, signal?: AbortSignal): Promise<string> {
  const res = await session.request({
    method: 'POST', url: `/v2/${repository}/blobs/uploads/`, headers: { 'content-length': '0' },
    scopes: [repositoryScope(repository, ['pull', 'push'])], context: { repository }, ...signalOpt(signal),
  });
  if (res.status !== 202) return session.fail(res, { method: 'POST', repository }, `start blob upload in ${repository}`);
  await res.body.dump();
  return requireLocation(session, res, repository, undefined);
}

/** Best-effort DELETE of an upload session, so an abandoned upload does not linger. */
export async function cancelUpload(session: RegistrySession, repository: string, location: string): Promise<void> {
  try {
    const res = await session.request({ method: 'DELETE', url: location, scopes: [repositoryScope(repository, ['pull', 'push'])], context: { repository } });
    await res.body.dump();
  } catch {
    // The registry garbage-collects stale uploads; nothing more to do.
  }
}

/**
 * Uploads `source` (exactly `blob.size` bytes hashing to `blob.digest`). Small blobs: one
 * streamed PUT whose last chunk is held until the digest checks out. Large blobs: chunks of
 * `chunkSize`, each PATCH resumable from the registry's reported offset, and the closing
 * PUT only after the whole stream verified.
 */
export async function uploadBlob(session: RegistrySession, repository: string, blob: BlobDescriptor, source: Readable, options: UploadOptions = {}): Promise<void> {
  const threshold = options.chunkThreshold ?? DEFAULT_CHUNK_THRESHOLD;
  let location = options.location ?? (await startUpload(session, repository, options.signal));
  try {
    if (blob.size > threshold) {
      location = await uploadChunks(session, repository, blob, source, location, options);
      await finishUpload(session, repository, blob, location, undefined, options);
    } else {
      const verifier = new DigestVerifier(blob.digest, blob.size, options.origin ?? { registry: session.registry, repository });
      const verified = verifyingStream(verifier, options.onBytes);
      const body = pipeline(source, verified, () => undefined);
      await finishUpload(session, repository, blob, location, body, options);
    }
  } catch (e) {
    source.destroy();
    await cancelUpload(session, repository, location);
    throw e;
  }
}

async function finishUpload(
  session: RegistrySession, repository: string, blob: BlobDescriptor, location: string, body: Readable | undefined, options: UploadOptions,
): Promise<void> {
  const url = session.resolve(location);
  url.searchParams.set('digest', blob.digest);
  const res = await session.request({
    method: 'PUT', url,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(body ? blob.size : 0) },
    ...(body ? { body } : {}),
    scopes: [repositoryScope(repository, ['pull', 'push'])], context: { repository, reference: blob.digest }, ...signalOpt(options.signal),
  });
  if (res.status !== 201 && res.status !== 204 && res.status !== 200) {
    return session.fail(res, { method: 'PUT', repository, reference: blob.digest }, `complete upload of blob ${blob.digest} to ${repository}`);
  }
  await res.body.dump();
}

async function uploadChunks(
  session: RegistrySession, repository: string, blob: BlobDescriptor, source: Readable, location: string, options: UploadOptions,
): Promise<string> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const verifier = new DigestVerifier(blob.digest, blob.size, options.origin ?? { registry: session.registry, repository });
  let offset = 0;
  let current = location;
  for await (const chunk of chunked(source, chunkSize, { reuse: true })) {
    verifier.update(chunk);
    // The last chunk is checked before it is sent: a bad blob never reaches its full size.
    if (offset + chunk.length === blob.size) verifier.check();
    current = await sendChunk(session, repository, blob.digest, current, chunk, offset, options);
    offset += chunk.length;
  }
  verifier.check();
  return current;
}

/**
 * Re-slices a stream into buffers of `size` bytes (the last may be shorter). With `reuse`,
 * every chunk is a view of one buffer, valid only until the next one is pulled: a chunked
 * upload then holds a single chunk's worth of memory per blob.
 */
export async function* chunked(source: AsyncIterable<Buffer | string>, size: number, options: { reuse?: boolean } = {}): AsyncGenerator<Buffer> {
  let buffer = Buffer.allocUnsafe(size);
  let length = 0;
  for await (const piece of source) {
    let buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
    while (buf.length > 0) {
      const take = Math.min(size - length, buf.length);
      buf.copy(buffer, length, 0, take);
      length += take;
      buf = buf.subarray(take);
      if (length === size) {
        yield buffer;
        if (!options.reuse) buffer = Buffer.allocUnsafe(size);
        length = 0;
      }
    }
  }
  if (length > 0) yield buffer.subarray(0, length);
}

/** PATCHes one chunk; after a failure asks the registry how much arrived and sends only the rest. */
async function sendChunk(
  session: RegistrySession, repository: string, digest: string, location: string, chunk: Buffer, start: number, options: UploadOptions,
): Promise<string> {
  const maxResumes = options.maxResumes ?? 3;
  const end = start + chunk.length;
  let sent = start;
  let current = location;
  let interruption: RegistryError | undefined;
  for (let resume = 0; ; resume++) {
    const part = chunk.subarray(sent - start);
    try {
      const res = await session.request({
        method: 'PATCH', url: current,
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${sent}-${end - 1}`,
          'content-length': String(part.length),
        },
        body: part, retry: false,
        scopes: [repositoryScope(repository, ['pull', 'push'])], context: { repository, reference: digest }, ...signalOpt(options.signal),
      });
      if (res.status !== 202 && res.status !== 204) {
        return await session.fail(res, { method: 'PATCH', repository, reference: digest }, `upload chunk ${sent}-${end - 1} of blob ${digest} to ${repository}`);
      }
      await res.body.dump();
      options.onBytes?.(part.length);
      return res.header('location') ? session.resolve(res.header('location')!).href : current;
    } catch (e) {
      if (interruption && isSessionLost(e)) throw sessionLost(session, repository, digest, interruption, e);
      if (!(e instanceof RegistryError) || !e.transient || resume >= maxResumes || options.signal?.aborted) throw e;
      interruption = e;
      let status: { offset: number; location: string };
      try {
        status = await uploadStatus(session, repository, digest, current, options.signal);
      } catch (statusError) {
        throw isSessionLost(statusError) ? sessionLost(session, repository, digest, e, statusError) : e;
      }
      if (status.offset < start || status.offset > end) {
        throw session.error(`upload of blob ${digest} to ${repository}: registry reports offset ${status.offset}, outside the chunk ${start}-${end - 1} being resumed`, {
          repository, reference: digest, code: 'BLOB_UPLOAD_INVALID', cause: e,
        });
      }
      sent = status.offset;
      current = status.location;
      if (sent === end) return current;
    }
  }
}

function isSessionLost(e: unknown): boolean {
  return e instanceof RegistryError && (e.code === 'BLOB_UPLOAD_INVALID' || e.code === 'BLOB_UPLOAD_UNKNOWN');
}

/**
 * The registry dropped the session after an interruption (Distribution 2.x does when a cut
 * PATCH left partial bytes behind). The interruption is the cause, so the error keeps its
 * transient code: the caller may start the blob over.
 */
function sessionLost(session: RegistrySession, repository: string, digest: string, interruption: RegistryError, lost: unknown): RegistryError {
  return session.error(`upload of blob ${digest} to ${repository} was interrupted (${interruption.message}) and the registry then discarded the upload session`, {
    repository, reference: digest, ...(interruption.code ? { code: interruption.code } : {}),
    ...(interruption.status !== undefined ? { status: interruption.status } : {}), cause: lost,
  });
}

/** `GET` on an upload session: how many bytes the registry holds (from `Range: 0-N`). */
export async function uploadStatus(session: RegistrySession, repository: string, digest: string, location: string, signal?: AbortSignal): Promise<{ offset: number; location: string }> {
  const res = await session.request({
    method: 'GET', url: location, scopes: [repositoryScope(repository, ['pull', 'push'])], context: { repository, reference: digest }, ...signalOpt(signal),
  });
  if (res.status !== 204 && res.status !== 200) return session.fail(res, { method: 'GET', repository, reference: digest }, `upload status of blob ${digest} in ${repository}`);
  await res.body.dump();
  const range = /^(?:bytes=)?0-(\d+)$/.exec((res.header('range') ?? '').trim());
  const last = range ? Number(range[1]) : -1;
  // Distribution reports an empty upload as "0-0"; a one-byte upload cannot be told apart.
  const offset = last <= 0 ? 0 : last + 1;
  const next = res.header('location');
  return { offset, location: next ? session.resolve(next).href : location };
}

function requireLocation(session: RegistrySession, res: TransportResponse, repository: string, digest: string | undefined): string {
  const location = res.header('location');
  if (!location) {
    throw session.error(`registry ${session.registry} opened an upload in ${repository} without a Location header`, {
      repository, ...(digest ? { reference: digest } : {}), status: res.status,
    });
  }
  return session.resolve(location).href;
}

