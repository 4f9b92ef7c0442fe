// Blob HEAD, streaming GET (redirects followed by hand so credentials never leave the
// registry's origin), cross-repository mount, and uploads: one streamed monolithic PUT, or
// chunked PATCHes that resume from the registry's offset after an interruption. Bytes are
// verified against the digest as they pass; bad bytes never complete an upload.
import { PassThrough, Readable, Transform } from 'node:stream';
import { repositoryScope } from './auth.js';
import type { BandwidthLimiter } from './bandwidth.js';
import { DigestVerifier, verifyingTap } from './digest.js';
import { DigestMismatchError, RegistryError, type RegistryErrorContext } from './errors.js';
import type { BodyTap } from './transport.js';
import type { RegistrySession } from './session.js';
import { redactedUrl } from './redirect-policy.js';
import { watchTransferRate, type RateFloor } from './transfer-rate.js';
import type { TransportResponse } from './transport.js';

export interface BlobDescriptor {
  digest: string;
  size: number;
}

export interface UploadOptions {
  /** Blobs larger than this go up in chunks (default 64 MiB). */
  chunkThreshold?: number;
  /** Bytes per PATCH in chunked uploads (default 16 MiB); streamed, never buffered. */
  chunkSize?: number;
  /** How many times chunks may be resumed from the registry's offset after failures (default 3; needs `reopen`). */
  maxResumes?: number;
  /** Continue an upload session of an earlier attempt: `source` then starts at `resume.offset`. */
  resume?: UploadCheckpoint;
  /** Opens the blob again from a byte offset, to resend a chunk lost with a failed request. */
  reopen?: (offset: number) => Promise<Readable>;
  /** Called after every chunk the registry acknowledged (record it to resume in a later attempt). */
  onCheckpoint?: (checkpoint: UploadCheckpoint) => void | Promise<void>;
  /** Stop between chunks (UploadStoppedError, session kept); `signal` instead cuts at once. */
  stop?: AbortSignal;
  /** An upload session already opened (e.g. by a mount request answered 202). */
  location?: string;
  signal?: AbortSignal;
  /** Where the bytes come from, named in a DigestMismatchError (default: the destination). */
  origin?: { registry: string; repository: string };
  /** Called with byte counts as they reach the destination (chunked: per acknowledged chunk). */
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
 * Streams a blob (from byte `offset` on, with a Range request). `size` is the whole blob's. Redirects are followed here, and the Authorization header goes only to
 * the registry's own origin. Stream failures surface as RegistryErrors of this registry.
 */
export async function openBlob(
  session: RegistrySession, repository: string, digest: string,
  options: { signal?: AbortSignal; throttle?: BandwidthLimiter; offset?: number; rateFloor?: RateFloor; expectedSize?: number } = {},
): Promise<{ stream: Readable; size: number | undefined }> {
  const context = { repository, reference: digest };
  const offset = options.offset ?? 0;
  const range = offset > 0 ? { headers: { range: `bytes=${offset}-` } } : {};
  let url = session.resolve(blobPath(repository, digest));
  let res: TransportResponse | undefined;
  for (let hop = 0; ; hop++) {
    res = session.sameOrigin(url)
      ? await session.request({ method: 'GET', url, ...range, scopes: [repositoryScope(repository, ['pull'])], context, lane: 'download', ...signalOpt(options.signal) })
      : await session.transport.request({ method: 'GET', url, ...range, context, lane: 'redirect', ...signalOpt(options.signal) });
    if (!isRedirect(res.status)) break;
    const location = res.header('location');
    await res.body.dump().catch(() => undefined);
    if (!location || hop >= MAX_REDIRECTS) {
      throw session.error(`GET blob ${repository}@${digest} at registry ${session.registry}: ${location ? 'too many redirects' : 'redirect without Location'}`, {
        ...context, status: res.status,
      });
    }
    url = new URL(location, url);
    if (!session.sameOrigin(url)) await session.transport.checkRedirect(url, context);
  }
  const partial = offset > 0 && res.status === 206;
  if (res.status !== 200 && !partial && !session.sameOrigin(url)) {
    // Whatever a redirect target answers is not the registry's to say: its body (an internal
    // page, say) is never quoted, only its status.
    await res.body.dump().catch(() => undefined);
    throw session.error(`GET blob ${repository}@${digest} at registry ${session.registry}: redirect target ${redactedUrl(url)} answered HTTP ${res.status}`, {
      ...context, status: res.status, ...(res.status === 404 ? { code: 'BLOB_UNKNOWN' } : {}),
    });
  }
  if (res.status !== 200 && !partial) {
    if (res.status === 404) {
      await res.body.dump().catch(() => undefined);
      throw session.error(`blob ${repository}@${digest} not found at registry ${session.registry}`, { ...context, status: 404, code: 'BLOB_UNKNOWN' });
    }
    return session.fail(res, { method: 'GET', ...context }, `GET blob ${repository}@${digest}`);
  }
  const length = Number(res.header('content-length'));
  const body = res.body;
  const finalUrl = url;
  const size = Number.isFinite(length) ? (partial ? offset + length : length) : undefined;
  const sourceError = (err: Error): Error => session.transport.networkError(err, 'GET', finalUrl, context) as Error;
  // The bytes this body should carry (the manifest says how big the blob is). A server
  // claiming more, or no length at all, could hold the stream open past them forever: then
  // the stream ends after them and the response is dropped.
  const expected = options.expectedSize === undefined ? undefined : options.expectedSize - (partial ? offset : 0);
  const overlong = expected !== undefined && !(Number.isFinite(length) && length <= expected);
  if (!(options.throttle && !options.throttle.unlimited) && !(offset > 0 && !partial) && !overlong) {
    // The common case hands out the response body itself: every extra stream stage costs a
    // callback round per 64 KiB chunk (~10% of a copy's CPU). A failing body still surfaces
    // as an error of the source registry, both as the 'error' event and as `errored` (what a
    // reader arriving later sees). A reader that drops the stream without an error (a mount
    // made it unneeded) stays silent.
    const destroy = body.destroy.bind(body);
    body.destroy = (err?: Error) => destroy(err ? sourceError(err) : undefined);
    return { stream: cutWhenTooSlow(keepErrorsForReader(body), body), size };
  }
  const out = keepErrorsForReader(options.throttle && !options.throttle.unlimited ? options.throttle.stream() : new PassThrough({ highWaterMark: 1024 * 1024 }));
  // A failing source stream surfaces as an error of the source registry, not of whoever reads it
  // (dropping the response after the expected bytes is no failure).
  let taken = false;
  body.on('error', (err) => {
    if (!taken) out.destroy(sourceError(err));
  });
  out.on('close', () => {
    if (!body.destroyed) body.destroy();
  });
  // A registry that ignored the Range header sent the whole blob: drop the bytes before `offset`.
  const whole = offset > 0 && !partial ? body.pipe(skipBytes(offset)) : body;
  if (overlong) {
    whole.pipe(takeBytes(expected - (offset > 0 && !partial ? offset : 0), whole, () => {
      taken = true;
      body.destroy();
    })).pipe(out);
  }
  else whole.pipe(out);
  return { stream: cutWhenTooSlow(out, body), size };

  /** Below the rate floor the transfer is cut with a transient error saying so. */
  function cutWhenTooSlow(stream: Readable, watched: Readable): Readable {
    const floor = options.rateFloor;
    if (floor && floor.bytesPerSecond > 0) {
      watchTransferRate(watched, floor, (moved) => {
        stream.destroy(session.error(
          `GET blob ${repository}@${digest} at registry ${session.registry}: ${moved} bytes in the last ${floor.windowMs / 1000} s, below the floor of ${floor.bytesPerSecond} bytes/s (worker.minTransferRate)`,
          { ...context, code: 'TOO_SLOW' },
        ));
      });
    }
    return stream;
  }
}

/**
 * A download may fail while nobody listens: it starts before its upload is ready to read
 * it, and an aborted upload stops listening while the source is still being cut. An
 * 'error' event without a listener kills the process; with this one the error stays on the
 * stream (`errored`), where any later reader (pipe, iterator, request body) still meets it.
 */
export function keepErrorsForReader<T extends Readable>(stream: T): T {
  stream.on('error', ignoreHere);
  return stream;
}

function ignoreHere(): void {
  // Deliberately empty: see keepErrorsForReader.
}

/** Passes the first `count` bytes of what `from` pipes into it, then ends and calls `drop`. */
function takeBytes(count: number, from: Readable, drop: () => void): Transform {
  let left = count;
  const done = (stage: Transform): void => {
    from.unpipe(stage);
    drop();
    stage.end();
  };
  const stage: Transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (left <= 0) {
        callback();
        return;
      }
      const piece = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= piece.length;
      callback(null, piece);
      if (left === 0) done(stage);
    },
  });
  if (left <= 0) queueMicrotask(() => done(stage));
  return stage;
}

function skipBytes(count: number): Transform {
  let left = count;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (left >= chunk.length) {
        left -= chunk.length;
        callback();
        return;
      }
      const rest = chunk.subarray(left);
      left = 0;
      callback(null, rest);
    },
  });
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

/** Where a chunked upload stands: the registry holds bytes [0, offset) of the blob in this session. */
export interface UploadCheckpoint {
  location: string;
  offset: number;
}

/**
 * A chunked upload stopped between two chunks because `options.stop` fired (shutdown or
 * deadline). The session is kept, so a later attempt can resume from `checkpoint`.
 */
export class UploadStoppedError extends RegistryError {
  constructor(message: string, ctx: RegistryErrorContext, readonly checkpoint: UploadCheckpoint) {
    super(message, { ...ctx, code: 'INTERRUPTED' });
  }

  override get transient(): boolean {
    return true;
  }
}

/**
 * Uploads `source` (exactly `blob.size` bytes hashing to `blob.digest`; with `resume`, the
 * bytes from `resume.offset` on). Small blobs: one streamed PUT whose last chunk is held until
 * the digest checks out. Large blobs (or a resume): PATCHes of `chunkSize` bytes, each body a
 * bounded slice of the source stream (nothing buffered), and the closing PUT only after the
 * whole stream verified.
 */
export async function uploadBlob(session: RegistrySession, repository: string, blob: BlobDescriptor, source: Readable, options: UploadOptions = {}): Promise<void> {
  const threshold = options.chunkThreshold ?? DEFAULT_CHUNK_THRESHOLD;
  let location = options.resume?.location ?? options.location ?? (await startUpload(session, repository, options.signal));
  const state: ChunkState = { source, checkpointed: false };
  try {
    // The download may have failed before anyone read it (it starts early).
    if (source.errored) throw source.errored;
    if (options.resume || blob.size > threshold) {
      location = await uploadChunks(session, repository, blob, location, options, state);
      await finishUpload(session, repository, blob, location, undefined, options);
    } else {
      const verifier = new DigestVerifier(blob.digest, blob.size, options.origin ?? { registry: session.registry, repository });
      // One streamed PUT has no boundary to stop at: `stop` cuts it at once (a shutdown
      // waiting for it would only outlast its grace period; nothing of it can be resumed).
      const signals = [options.signal, options.stop].filter((s): s is AbortSignal => s !== undefined);
      const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
      await finishUpload(session, repository, blob, location, { source, tap: verifyingTap(verifier, options.onBytes) }, { ...options, ...(signal ? { signal } : {}) });
    }
  } catch (e) {
    source.destroy();
    state.source.destroy();
    // A stopped or transiently failed upload whose progress was recorded stays open for the
    // next attempt (registries garbage-collect sessions nobody comes back for).
    const keep = e instanceof UploadStoppedError
      || (state.checkpointed && (options.signal?.aborted || (e instanceof RegistryError && e.transient && !isSessionLost(e))));
    if (!keep) await cancelUpload(session, repository, location);
    throw e;
  }
}

async function finishUpload(
  session: RegistrySession, repository: string, blob: BlobDescriptor, location: string, body: { source: Readable; tap: BodyTap } | undefined, options: UploadOptions,
): Promise<void> {
  const url = session.resolve(location);
  url.searchParams.set('digest', blob.digest);
  const res = await session.request({
    method: 'PUT', url,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(body ? blob.size : 0) },
    ...(body ? { body: body.source, tap: body.tap } : {}),
    scopes: [repositoryScope(repository, ['pull', 'push'])], context: { repository, reference: blob.digest }, ...signalOpt(options.signal),
  });
  if (res.status !== 201 && res.status !== 204 && res.status !== 200) {
    return session.fail(res, { method: 'PUT', repository, reference: blob.digest }, `complete upload of blob ${blob.digest} to ${repository}`);
  }
  await res.body.dump();
}

interface ChunkState {
  /** The stream currently read (a reopened one after a resume); destroyed on failure. */
  source: Readable;
  /** A checkpoint was handed to `onCheckpoint`: keep the session on a transient failure. */
  checkpointed: boolean;
}

async function uploadChunks(
  session: RegistrySession, repository: string, blob: BlobDescriptor, location: string, options: UploadOptions, state: ChunkState,
): Promise<string> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const maxResumes = options.maxResumes ?? 3;
  const origin = options.origin ?? { registry: session.registry, repository };
  // A resumed upload never saw the first bytes, so it cannot hash them: the registry checks
  // the digest when the upload is completed (Distribution answers DIGEST_INVALID).
  let verifier: DigestVerifier | undefined = options.resume ? undefined : new DigestVerifier(blob.digest, blob.size, origin);
  let reader = new ByteReader(state.source);
  let offset = options.resume?.offset ?? 0;
  let current = location;
  let resumes = 0;
  let interruption: RegistryError | undefined;
  while (offset < blob.size) {
    if (options.stop?.aborted) {
      throw new UploadStoppedError(`upload of blob ${blob.digest} to ${repository} at registry ${session.registry} stopped at byte ${offset} of ${blob.size}`, {
        registry: session.registry, repository, reference: blob.digest, cause: options.stop.reason,
      }, { location: current, offset });
    }
    const end = Math.min(offset + chunkSize, blob.size);
    const rewind = verifier?.copy();
    try {
      current = await sendChunk(session, repository, blob, current, reader, offset, end, verifier, origin, options.signal);
    } catch (e) {
      // The registry may notice the earlier interruption only now (Distribution drops a
      // session whose last PATCH was cut): the blob can start over, so keep it transient.
      if (interruption && isSessionLost(e)) throw sessionLost(session, repository, blob.digest, interruption, e);
      if (!(e instanceof RegistryError) || !e.transient || isSessionLost(e) || options.signal?.aborted || !options.reopen || resumes >= maxResumes) throw e;
      resumes += 1;
      interruption = e;
      let status: UploadCheckpoint;
      try {
        status = await uploadStatus(session, repository, blob.digest, current, options.signal);
      } catch (statusError) {
        throw isSessionLost(statusError) ? sessionLost(session, repository, blob.digest, e, statusError) : e;
      }
      if (status.offset < offset || status.offset > end) {
        throw session.error(`upload of blob ${blob.digest} to ${repository}: registry reports offset ${status.offset}, outside the chunk ${offset}-${end - 1} being resumed`, {
          repository, reference: blob.digest, code: 'BLOB_UPLOAD_INVALID', cause: e,
        });
      }
      // The chunk's bytes are gone with the failed request: read them again from the chunk
      // start (hashing what the registry already holds without sending it).
      state.source.destroy();
      state.source = await options.reopen(offset);
      reader = new ByteReader(state.source);
      verifier = rewind;
      await reader.skip(status.offset - offset, verifier);
      options.onBytes?.(status.offset - offset);
      offset = status.offset;
      current = status.location;
      continue;
    }
    options.onBytes?.(end - offset);
    offset = end;
    if (options.onCheckpoint) {
      await options.onCheckpoint({ location: current, offset });
      state.checkpointed = true;
    }
  }
  verifier?.check();
  return current;
}

/**
 * PATCHes bytes [start, end) read straight from the source as the request body. The last
 * chunk of a blob is checked before its final bytes leave: a bad blob never reaches its size.
 */
async function sendChunk(
  session: RegistrySession, repository: string, blob: BlobDescriptor, location: string, reader: ByteReader,
  start: number, end: number, verifier: DigestVerifier | undefined, origin: { registry: string; repository: string }, signal: AbortSignal | undefined,
): Promise<string> {
  const length = end - start;
  async function* body(): AsyncGenerator<Buffer> {
    let sent = 0;
    for await (const piece of reader.take(length)) {
      verifier?.update(piece);
      if (verifier && verifier.bytes === blob.size) verifier.check();
      sent += piece.length;
      yield piece;
    }
    if (sent < length) {
      throw new DigestMismatchError(`blob ${blob.digest} from ${origin.registry}/${origin.repository} ended after ${start + sent} of ${blob.size} bytes`, {
        ...origin, reference: blob.digest, code: 'DIGEST_MISMATCH',
      });
    }
  }
  const res = await session.request({
    method: 'PATCH', url: location,
    headers: {
      'content-type': 'application/octet-stream',
      'content-range': `${start}-${end - 1}`,
      'content-length': String(length),
    },
    body: keepErrorsForReader(Readable.from(body(), { objectMode: false })), retry: false,
    scopes: [repositoryScope(repository, ['pull', 'push'])], context: { repository, reference: blob.digest }, ...signalOpt(signal),
  });
  if (res.status !== 202 && res.status !== 204) {
    return session.fail(res, { method: 'PATCH', repository, reference: blob.digest }, `upload chunk ${start}-${end - 1} of blob ${blob.digest} to ${repository}`);
  }
  await res.body.dump();
  const next = res.header('location');
  return next ? session.resolve(next).href : location;
}

/** Pulls exact byte counts off a stream; what a chunk did not need waits for the next one. */
class ByteReader {
  private readonly iterator: AsyncIterator<Buffer | string>;
  private rest: Buffer | undefined;

  constructor(source: Readable) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Yields the next `count` bytes (fewer only when the stream ends). */
  async *take(count: number): AsyncGenerator<Buffer> {
    let left = count;
    while (left > 0) {
      let piece = this.rest;
      this.rest = undefined;
      if (!piece) {
        const next = await this.iterator.next();
        if (next.done) return;
        piece = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      }
      if (piece.length > left) {
        this.rest = piece.subarray(left);
        piece = piece.subarray(0, left);
      }
      left -= piece.length;
      yield piece;
    }
  }

  /** Reads and hashes `count` bytes without sending them (the registry already has them). */
  async skip(count: number, verifier: DigestVerifier | undefined): Promise<void> {
    for await (const piece of this.take(count)) verifier?.update(piece);
  }
}

/**
 * Re-slices a stream into buffers of `size` bytes (the last may be shorter). With `reuse`,
 * every chunk is a view of one buffer, valid only until the next one is pulled.
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

