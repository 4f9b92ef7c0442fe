// Reads a manifest's bytes into what the copy engine walks: an index's children, or an
// image's config and layers. Pure; the bytes themselves are never re-serialised.
import { UnsupportedManifestError, type RegistryErrorContext } from './errors.js';
import {
  isIndexMediaType, isSchema1MediaType, normalizeMediaType, SUPPORTED_MANIFEST_TYPES, type Descriptor,
} from './media-types.js';

export type ManifestContent =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'image'; mediaType: string; config: Descriptor; layers: Descriptor[]; subject?: Descriptor };

type Where = Pick<RegistryErrorContext, 'registry' | 'repository' | 'reference'>;

export function schema1Message(mediaType: string, where: Where): string {
  return `${describe(where)} is a Docker schema1 manifest (${mediaType}); schema1 is deprecated and ferry does not copy it: `
    + 'push the image again with a current docker, buildah or skopeo to get a schema2/OCI manifest';
}

/**
 * The media type a manifest really has: the Content-Type header when it is a manifest type,
 * else the `mediaType` field of the JSON (OCI manifests may omit the header's precision).
 * Throws UnsupportedManifestError for schema1 and anything ferry cannot copy.
 */
export function resolveManifestMediaType(contentType: string | undefined, bytes: Buffer | undefined, where: Where): string {
  const header = normalizeMediaType(contentType);
  if (header && isSchema1MediaType(header)) {
    throw new UnsupportedManifestError(schema1Message(header, where), { ...where, code: 'MANIFEST_UNSUPPORTED' });
  }
  if (header && SUPPORTED_MANIFEST_TYPES.includes(header)) return header;
  if (bytes) {
    const json = parseJson(bytes, where);
    if (json.schemaVersion === 1) {
      throw new UnsupportedManifestError(schema1Message(header ?? 'schemaVersion 1', where), { ...where, code: 'MANIFEST_UNSUPPORTED' });
    }
    const field = typeof json.mediaType === 'string' ? json.mediaType : undefined;
    if (field && SUPPORTED_MANIFEST_TYPES.includes(field)) return field;
    // OCI allows mediaType to be absent: tell an index from an image by its shape.
    if (!field && Array.isArray(json.manifests)) return 'application/vnd.oci.image.index.v1+json';
    if (!field && json.config && Array.isArray(json.layers)) return 'application/vnd.oci.image.manifest.v1+json';
  }
  throw new UnsupportedManifestError(
    `${describe(where)} has unsupported manifest media type ${JSON.stringify(header ?? 'none')}; `
      + `ferry copies ${SUPPORTED_MANIFEST_TYPES.join(', ')}`,
    { ...where, code: 'MANIFEST_UNSUPPORTED' },
  );
}

export function parseManifestContent(bytes: Buffer, mediaType: string, where: Where): ManifestContent {
  const json = parseJson(bytes, where);
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(json.manifests)) throw invalid('an index without a manifests array', where);
    return { kind: 'index', mediaType, manifests: json.manifests.map((d, i) => descriptor(d, `manifests[${i}]`, where)) };
  }
  if (!Array.isArray(json.layers) && json.layers !== undefined) throw invalid('layers is not an array', where);
  const layers = (json.layers ?? []) as unknown[];
  const content: ManifestContent = {
    kind: 'image',
    mediaType,
    config: descriptor(json.config, 'config', where),
    layers: layers.map((d, i) => descriptor(d, `layers[${i}]`, where)),
  };
  if (json.subject !== undefined) content.subject = descriptor(json.subject, 'subject', where);
  return content;
}

function parseJson(bytes: Buffer, where: Where): Record<string, unknown> & { manifests?: unknown; layers?: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw invalid(`invalid JSON (${(e as Error).message})`, where);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('not a JSON object', where);
  return value as Record<string, unknown>;
}

function descriptor(value: unknown, path: string, where: Where): Descriptor {
  const d = value as Partial<Descriptor> | null | undefined;
  if (!d || typeof d !== 'object' || typeof d.digest !== 'string' || typeof d.size !== 'number' || typeof d.mediaType !== 'string') {
    throw invalid(`${path} is not a descriptor with mediaType, digest and size`, where);
  }
  if (!/^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$/.test(d.digest)) throw invalid(`${path} has an invalid digest ${JSON.stringify(d.digest)}`, where);
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${path} has an invalid size ${d.size}`, where);
  return d as Descriptor;
}

function invalid(what: string, where: Where): UnsupportedManifestError {
  return new UnsupportedManifestError(`${describe(where)} is not a valid manifest: ${what}`, { ...where, code: 'MANIFEST_INVALID' });
}

function describe(where: Where): string {
  const ref = where.reference ? (where.reference.includes(':') ? `@${where.reference}` : `:${where.reference}`) : '';
  return `${where.registry}/${where.repository ?? '?'}${ref}`;
}
