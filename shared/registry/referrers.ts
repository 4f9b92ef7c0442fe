// The OCI 1.1 referrers protocol, read side: which manifests refer to a subject digest.
// `GET /v2/<name>/referrers/<digest>` (optionally `?artifactType=`) answers an image index
// of descriptors; a registry without the API answers 404, and then clients keep the same
// index under the referrers tag schema, tag `<alg>-<hex>` (e.g. `sha256-0a9b...`), which
// every pushing client read-modify-writes. Cosign's older scheme names its artifacts by
// tags `sha256-<hex>.sig`, `.att` and `.sbom` (no `subject`); those are read here too.
import { repositoryScope } from './auth.js';
import { MAX_MANIFEST_BYTES } from './manifests.js';
import { MediaTypes, type Descriptor } from './media-types.js';
import type { RegistrySession } from './session.js';
import { parseOciErrors, readAll, readBounded } from './transport.js';
import { nextLink } from './listing.js';

export { COSIGN_SUFFIXES, cosignTag, followsSubject, parseReferrerTag, referrersTag } from './referrer-tags.js';

export interface ReferrersAnswer {
  /** The referrers API answered (true), or the registry has none (false: 404). */
  api: boolean;
  /** Descriptors of the manifests whose `subject` is the digest (API answer, or the fallback tag's index). */
  manifests: Descriptor[];
}

/** An empty OCI index for the referrers tag schema. */
export function emptyReferrersIndex(): { schemaVersion: 2; mediaType: string; manifests: Descriptor[] } {
  return { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
}

/**
 * `GET /v2/<name>/referrers/<digest>`: the descriptors (every page, following Link), or
 * undefined when the first page answers 404: 'no-api' when that 404 is not an OCI error (the
 * route itself is unknown, as on Distribution 2.8), undefined for an OCI error (a registry with
 * the API that does not know the repository). `artifactType` filters when the registry
 * applies it (OCI-Filters-Applied), else here.
 */
export async function referrersApi(
  session: RegistrySession, repository: string, digest: string, options: { artifactType?: string; signal?: AbortSignal } = {},
): Promise<Descriptor[] | 'no-api' | undefined> {
  let url: URL | undefined = session.resolve(`/v2/${repository}/referrers/${digest}`);
  if (options.artifactType) url.searchParams.set('artifactType', options.artifactType);
  const out: Descriptor[] = [];
  const seen = new Set<string>();
  let filtered = options.artifactType === undefined;
  while (url) {
    if (seen.has(url.href)) break;
    seen.add(url.href);
    const res = await session.request({
      method: 'GET', url, headers: { accept: MediaTypes.ociIndex },
      scopes: [repositoryScope(repository, ['pull'])], context: { repository, reference: digest }, ...(options.signal ? { signal: options.signal } : {}),
    });
    if (res.status === 404) {
      const text = await readBounded(res.body, 4096).catch(() => '');
      // A later page vanishing is an error; the first one missing means "no API".
      if (out.length > 0 || seen.size > 1) throw session.error(`referrers of ${repository}@${digest} at registry ${session.registry}: a later page answered 404`, { repository, reference: digest, status: 404 });
      return parseOciErrors(text) ? undefined : 'no-api';
    }
    if (res.status !== 200) return session.fail(res, { method: 'GET', repository, reference: digest }, `GET referrers of ${repository}@${digest}`);
    if ((res.header('oci-filters-applied') ?? '').split(',').map((s) => s.trim()).includes('artifactType')) filtered = true;
    const bytes = await readAll(res.body, MAX_MANIFEST_BYTES, () => session.error(`referrers of ${repository}@${digest} at registry ${session.registry} are larger than ${MAX_MANIFEST_BYTES} bytes`, { repository, reference: digest }));
    out.push(...indexDescriptors(bytes, () => session.error(`referrers of ${repository}@${digest} at registry ${session.registry}: not an image index`, { repository, reference: digest, code: 'MANIFEST_INVALID' })));
    const next = nextLink(res.header('link'));
    url = next ? new URL(next, url) : undefined;
    if (url && !session.sameOrigin(url)) throw session.error(`registry ${session.registry} sent a referrers Link to another origin (${url.origin}); refusing to follow`, { repository });
  }
  return filtered ? out : out.filter((d) => d.artifactType === options.artifactType);
}

/** The descriptors of an image index's bytes (the referrers answer or the fallback tag's manifest). */
export function indexDescriptors(bytes: Buffer, invalid: () => Error): Descriptor[] {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid();
  }
  const manifests = (json as { manifests?: unknown } | null)?.manifests;
  if (!Array.isArray(manifests)) throw invalid();
  return manifests.filter((d): d is Descriptor => isDescriptor(d));
}

function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Partial<Descriptor> | null;
  return typeof d === 'object' && d !== null && typeof d.digest === 'string' && /^sha(256|512):[a-f0-9]+$/.test(d.digest)
    && typeof d.mediaType === 'string' && typeof d.size === 'number';
}

/** The `subject` of a manifest's bytes (image or index), when it has one. */
export function subjectOf(bytes: Buffer): Descriptor | undefined {
  try {
    const subject = (JSON.parse(bytes.toString('utf8')) as { subject?: unknown }).subject;
    return isDescriptor(subject) ? subject : undefined;
  } catch {
    return undefined;
  }
}

/** The artifact type of a referrer manifest as the referrers API reports it: `artifactType`, else the config's media type. */
export function artifactTypeOf(bytes: Buffer): string | undefined {
  try {
    const json = JSON.parse(bytes.toString('utf8')) as { artifactType?: unknown; config?: { mediaType?: unknown } };
    if (typeof json.artifactType === 'string') return json.artifactType;
    return typeof json.config?.mediaType === 'string' ? json.config.mediaType : undefined;
  } catch {
    return undefined;
  }
}
