// Manifest media types ferry copies, and the pure checks on what a registry returned.

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** What ferry asks for on every manifest GET/HEAD: never schema1, so registries that can convert do. */
export const MANIFEST_ACCEPT = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
].join(', ');

export const SUPPORTED_MANIFEST_TYPES: readonly string[] = [
  MediaTypes.ociManifest,
  MediaTypes.ociIndex,
  MediaTypes.dockerManifest,
  MediaTypes.dockerManifestList,
];

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
}

export function isSchema1MediaType(mediaType: string): boolean {
  return mediaType === MediaTypes.dockerSchema1 || mediaType === MediaTypes.dockerSchema1Signed;
}

/** Strips parameters (`; charset=utf-8`) and case from a Content-Type header. */
export function normalizeMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const value = contentType.split(';')[0]!.trim().toLowerCase();
  return value === '' ? undefined : value;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
  artifactType?: string;
}

/** Foreign (Windows base) and non-distributable layers must not be pushed: their bytes live elsewhere. */
export function isNonDistributable(descriptor: Pick<Descriptor, 'mediaType' | 'urls'>): boolean {
  if (descriptor.urls && descriptor.urls.length > 0) return true;
  const mt = descriptor.mediaType;
  return mt.includes('.nondistributable.') || mt.includes('.foreign.') || mt.endsWith('.foreign');
}
