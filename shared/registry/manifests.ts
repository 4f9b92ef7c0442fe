// Manifest GET/HEAD/PUT/DELETE. Bytes are kept exactly as the registry sent them: the
// digest names those bytes, so re-serialising would change the image's identity.
import { repositoryScope } from './auth.js';
import { computeDigest, digestAlgorithm } from './digest.js';
import { DigestMismatchError, RegistryError } from './errors.js';
import { resolveManifestMediaType } from './manifest-content.js';
import { MANIFEST_ACCEPT, normalizeMediaType } from './media-types.js';
import type { RegistrySession } from './session.js';
import { readAll } from './transport.js';

/** Manifests are small JSON documents; anything larger is refused rather than buffered. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Manifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface ManifestHead {
  digest: string;
  mediaType: string | undefined;
  size: number | undefined;
}

function isDigestReference(reference: string): boolean {
  return reference.startsWith('sha256:') || reference.startsWith('sha512:');
}

function manifestPath(repository: string, reference: string): string {
  return `/v2/${repository}/manifests/${reference}`;
}

/** GET a manifest; 404 -> undefined. Schema1 and unknown types -> UnsupportedManifestError. */
export async function getManifest(session: RegistrySession, repository: string, reference: string, signal?: AbortSignal): Promise<Manifest | undefined> {
  const context = { method: 'GET', repository, reference };
  const res = await session.request({
    method: 'GET', url: manifestPath(repository, reference), headers: { accept: MANIFEST_ACCEPT },
    scopes: [repositoryScope(repository, ['pull'])], context: { repository, reference }, ...(signal ? { signal } : {}),
  });
  if (res.status === 404) {
    await res.body.dump();
    return undefined;
  }
  if (res.status !== 200) return session.fail(res, context, `GET manifest ${repository}:${reference}`);
  const bytes = await readAll(res.body, MAX_MANIFEST_BYTES, () => session.error(
    `manifest ${repository}:${reference} at registry ${session.registry} is larger than ${MAX_MANIFEST_BYTES} bytes`,
    { repository, reference, code: 'MANIFEST_INVALID' },
  ));
  const where = { registry: session.registry, repository, reference };
  const mediaType = resolveManifestMediaType(res.header('content-type'), bytes, where);
  const digest = isDigestReference(reference) ? computeDigest(bytes, digestAlgorithm(reference)) : computeDigest(bytes);
  if (isDigestReference(reference)) {
    if (digest !== reference) {
      throw new DigestMismatchError(`manifest ${repository}@${reference} at registry ${session.registry} hashes to ${digest}`, { ...where, code: 'DIGEST_MISMATCH' });
    }
    const header = res.header('docker-content-digest');
    if (header?.startsWith(`${digestAlgorithm(reference)}:`) && header !== reference) {
      throw new DigestMismatchError(`manifest ${repository}@${reference} at registry ${session.registry} was served with Docker-Content-Digest ${header}`, { ...where, code: 'DIGEST_MISMATCH' });
    }
  }
  return { digest, mediaType, bytes };
}

/** HEAD a manifest; 404 -> undefined. Falls back to GET when the registry omits Docker-Content-Digest. */
export async function headManifest(session: RegistrySession, repository: string, reference: string, signal?: AbortSignal): Promise<ManifestHead | undefined> {
  const res = await session.request({
    method: 'HEAD', url: manifestPath(repository, reference), headers: { accept: MANIFEST_ACCEPT },
    scopes: [repositoryScope(repository, ['pull'])], context: { repository, reference }, ...(signal ? { signal } : {}),
  });
  await res.body.dump().catch(() => undefined);
  if (res.status === 404) return undefined;
  if (res.status !== 200) {
    throw new RegistryError(`HEAD manifest ${repository}:${reference} at registry ${session.registry} -> HTTP ${res.status}`, {
      registry: session.registry, repository, reference, status: res.status,
    });
  }
  const digest = res.header('docker-content-digest');
  if (!digest) {
    const manifest = await getManifest(session, repository, reference, signal);
    return manifest && { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.bytes.length };
  }
  const length = Number(res.header('content-length'));
  return { digest, mediaType: normalizeMediaType(res.header('content-type')), size: Number.isFinite(length) ? length : undefined };
}

/** PUT the bytes unchanged under `reference` (a tag, or the digest itself); returns the registry's digest. */
export async function putManifest(
  session: RegistrySession, repository: string, reference: string, manifest: { bytes: Buffer; mediaType: string }, signal?: AbortSignal,
): Promise<string> {
  const res = await session.request({
    method: 'PUT', url: manifestPath(repository, reference),
    headers: { 'content-type': manifest.mediaType, 'content-length': String(manifest.bytes.length) },
    body: manifest.bytes, scopes: [repositoryScope(repository, ['pull', 'push'])], context: { repository, reference },
    ...(signal ? { signal } : {}),
  });
  if (res.status !== 201 && res.status !== 200 && res.status !== 202) {
    return session.fail(res, { method: 'PUT', repository, reference }, `PUT manifest ${repository}:${reference}`);
  }
  await res.body.dump();
  const expected = computeDigest(manifest.bytes);
  const returned = res.header('docker-content-digest');
  if (returned?.startsWith('sha256:') && returned !== expected) {
    throw new DigestMismatchError(`registry ${session.registry} stored manifest ${repository}:${reference} as ${returned}, expected ${expected}`, {
      registry: session.registry, repository, reference, code: 'DIGEST_MISMATCH',
    });
  }
  return expected;
}

/**
 * DELETE a manifest by digest, or a tag (OCI 1.1 tag delete). true = deleted, false = not
 * there (404). Registries that cannot delete this way answer with an error the caller inspects.
 */
export async function deleteManifest(session: RegistrySession, repository: string, reference: string, signal?: AbortSignal): Promise<boolean> {
  const res = await session.request({
    method: 'DELETE', url: manifestPath(repository, reference),
    scopes: [repositoryScope(repository, ['delete'])], context: { repository, reference }, ...(signal ? { signal } : {}),
  });
  if (res.status === 202 || res.status === 200 || res.status === 204) {
    await res.body.dump();
    return true;
  }
  if (res.status === 404) {
    // Distribution answers 404 MANIFEST_UNKNOWN for an absent digest; other 404 bodies
    // (e.g. NAME_UNKNOWN) mean the same for us: nothing to delete.
    await res.body.dump();
    return false;
  }
  return session.fail(res, { method: 'DELETE', repository, reference }, `DELETE manifest ${repository}:${reference}`);
}

/** Untag is unsupported when the registry answers this way (Distribution 2.x and others). */
export function isUntagUnsupported(error: unknown): boolean {
  if (!(error instanceof RegistryError)) return false;
  if (error.status === 405 || error.status === 501) return true;
  if (error.status === 400) return true;
  return error.code === 'UNSUPPORTED' || error.code === 'DIGEST_INVALID';
}
