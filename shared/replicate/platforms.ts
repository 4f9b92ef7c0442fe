// Platform selection (policy `platforms`, `ferry copy --platform`): of a multi-arch index,
// copy only some platforms. One platform: its own manifest is what the destination tag
// points at (as crane and regsync do). Several: a new index listing just those children,
// the rest of the source index kept (annotations), so its digest differs from the
// source's. A single-platform image is copied as it is. A platform the index does not have
// is an error naming those it has (retrying cannot help).
import { computeDigest } from '../registry/digest.js';
import { readAll } from '../registry/transport.js';
import { parseManifestContent } from '../registry/manifest-content.js';
import type { Manifest } from '../registry/manifests.js';
import type { Descriptor } from '../registry/media-types.js';
import type { Side } from './referrers.js';
import { PermanentJobError } from './errors.js';

export class PlatformSelectionError extends PermanentJobError {}

interface Platform {
  os: string;
  architecture: string;
  variant?: string | undefined;
}

/** `linux/arm64/v8` -> { os, architecture, variant }. */
export function parsePlatform(text: string): Platform {
  const [os = '', architecture = '', variant] = text.split('/');
  return { os, architecture, variant };
}

// arm64 images usually omit their (only) variant, arm ones mean v7: compare as if written.
const DEFAULT_VARIANT: Record<string, string> = { arm64: 'v8', arm: 'v7' };

function key(p: Platform): string {
  const variant = p.variant ?? DEFAULT_VARIANT[p.architecture];
  return `${p.os}/${p.architecture}${variant ? `/${variant}` : ''}`;
}

function describePlatform(d: Descriptor): string | undefined {
  const p = d.platform;
  if (!p?.os || !p.architecture) return undefined;
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

export type Selection =
  | { kind: 'all' }
  | { kind: 'one'; child: Descriptor }
  | { kind: 'index'; manifest: Manifest };

/** Which children of `index` the wanted platforms name; throws PlatformSelectionError for one it lacks. */
export function selectPlatforms(index: Manifest, wanted: readonly string[], where: { registry: string; repository: string; reference: string }): Selection {
  const content = parseManifestContent(index.bytes, index.mediaType, where);
  if (content.kind !== 'index') return { kind: 'all' };
  const children = content.manifests.filter((d) => describePlatform(d) !== undefined && d.platform?.os !== 'unknown');
  const wantedKeys = [...new Set(wanted.map((w) => key(parsePlatform(w))))];
  const missing = wantedKeys.filter((k) => !children.some((d) => key(d.platform as Platform) === k));
  if (missing.length > 0) {
    const has = children.map((d) => describePlatform(d)).join(', ') || 'no platforms';
    throw new PlatformSelectionError(`${where.registry}/${where.repository}${where.reference.includes(':') ? '@' : ':'}${where.reference} has no platform ${missing.join(', ')} (it has ${has})`);
  }
  const selected = content.manifests.filter((d) => d.platform && wantedKeys.includes(key(d.platform as Platform)) && d.platform.os !== 'unknown');
  if (selected.length === 1) return { kind: 'one', child: selected[0]! };
  const json = JSON.parse(index.bytes.toString('utf8')) as Record<string, unknown>;
  // The selection is a new index of its own: a `subject` named the source index, not this one.
  delete json.subject;
  const bytes = Buffer.from(JSON.stringify({ ...json, manifests: selected }));
  return { kind: 'index', manifest: { digest: computeDigest(bytes), mediaType: index.mediaType, bytes } };
}

/** The manifest the destination gets for `manifest` under the selection (fetching a lone child). */
export async function selectedManifest(source: Side, manifest: Manifest, wanted: readonly string[] | undefined, reference: string, signal?: AbortSignal): Promise<Manifest> {
  if (!wanted || wanted.length === 0) return manifest;
  const selection = selectPlatforms(manifest, wanted, { registry: source.client.name, repository: source.repository, reference });
  if (selection.kind === 'all') return manifest;
  if (selection.kind === 'index') return selection.manifest;
  const child = await source.client.getManifest(source.repository, selection.child.digest, signal);
  if (!child) throw new PlatformSelectionError(`${source.client.name}/${source.repository}@${manifest.digest} lists ${selection.child.digest}, which the source does not have`);
  return child;
}

/** Image configs are small JSON documents; a larger one is not read for its platform. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Whether a single-platform image pushed by digest (an index child's own event) is one of
 * the wanted platforms, read from its config blob (os, architecture, variant). An image
 * whose config names no platform (an artifact, e.g. an SBOM) is not filtered.
 */
export async function digestPushSelected(source: Side, manifest: Manifest, wanted: readonly string[] | undefined, signal?: AbortSignal): Promise<{ selected: boolean; platform?: string }> {
  if (!wanted || wanted.length === 0) return { selected: true };
  const content = parseManifestContent(manifest.bytes, manifest.mediaType, { registry: source.client.name, repository: source.repository, reference: manifest.digest });
  if (content.kind !== 'image' || content.config.size > MAX_CONFIG_BYTES) return { selected: true };
  const { stream } = await source.client.openBlob(source.repository, content.config.digest, signal);
  const bytes = await readAll(stream, MAX_CONFIG_BYTES, () => new Error(`config ${content.config.digest} is larger than ${MAX_CONFIG_BYTES} bytes`));
  let config: { os?: unknown; architecture?: unknown; variant?: unknown };
  try {
    config = JSON.parse(bytes.toString('utf8')) as typeof config;
  } catch {
    return { selected: true };
  }
  if (typeof config.os !== 'string' || typeof config.architecture !== 'string' || config.os === '' || config.architecture === '') return { selected: true };
  const platform: Platform = { os: config.os, architecture: config.architecture, variant: typeof config.variant === 'string' ? config.variant : undefined };
  const wantedKeys = wanted.map((w) => key(parsePlatform(w)));
  return { selected: wantedKeys.includes(key(platform)), platform: key(platform) };
}
