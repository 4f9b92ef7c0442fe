// The delete path (docs/architecture.md, "The copy engine"): make the destination stop serving what the source
// no longer has, without ever removing something a source tag still points at.
import type { RegistryClient } from '../registry/client.js';
import { isUntagUnsupported } from '../registry/manifests.js';
import { isDigest } from '../oci/grammar.js';
import { PermanentJobError } from './errors.js';

export interface DeleteOptions {
  source: { client: RegistryClient; repository: string; reference: string };
  destination: { client: RegistryClient; repository: string };
  signal?: AbortSignal;
  /** Most source tags inspected when deciding whether a digest is still tagged (default 1000). */
  maxSourceTags?: number;
}

export interface DeleteResult {
  /** deleted: something was removed; none: nothing to remove; skipped: kept on purpose (reason). */
  action: 'deleted' | 'skipped' | 'none';
  reason: string;
  /** The destination digest the decision was about. */
  digest?: string;
}

export async function deleteImage(options: DeleteOptions): Promise<DeleteResult> {
  const { source, destination, signal } = options;
  const dest = `${destination.client.name}/${destination.repository}`;

  if (isDigest(source.reference)) {
    const digest = source.reference;
    // Jobs converge: a digest the source has again (re-pushed) must not be deleted.
    if (await source.client.headManifest(source.repository, digest, signal)) {
      return { action: 'skipped', reason: `source ${source.client.name}/${source.repository} still has ${digest}`, digest };
    }
    const deleted = await destination.client.deleteManifest(destination.repository, digest, signal);
    return deleted
      ? { action: 'deleted', reason: `deleted ${dest}@${digest}`, digest }
      : { action: 'none', reason: `${dest}@${digest} is already absent`, digest };
  }

  const tag = source.reference;
  const current = await destination.client.headManifest(destination.repository, tag, signal);
  if (!current) return { action: 'none', reason: `${dest}:${tag} is already absent` };
  const digest = current.digest;

  try {
    const untagged = await destination.client.deleteManifest(destination.repository, tag, signal);
    return untagged
      ? { action: 'deleted', reason: `untagged ${dest}:${tag}`, digest }
      : { action: 'none', reason: `${dest}:${tag} is already absent`, digest };
  } catch (e) {
    if (!isUntagUnsupported(e)) throw e;
  }

  // The registry cannot untag (Distribution 2.x): deleting the digest removes every tag on
  // it, so do it only if no source tag still points there.
  const stillTagged = await sourceTagPointingAt(options, digest);
  if (stillTagged) {
    return {
      action: 'skipped',
      reason: `${destination.client.name} cannot delete tag ${tag} alone, and source tag ${source.repository}:${stillTagged} still points at ${digest}`,
      digest,
    };
  }
  const deleted = await destination.client.deleteManifest(destination.repository, digest, signal);
  return deleted
    ? { action: 'deleted', reason: `${destination.client.name} cannot untag: deleted ${dest}@${digest} (no source tag points at it)`, digest }
    : { action: 'none', reason: `${dest}@${digest} is already absent`, digest };
}

/** The first source tag (if any) whose manifest digest is `digest`; bounded by maxSourceTags. */
async function sourceTagPointingAt(options: DeleteOptions, digest: string): Promise<string | undefined> {
  const { source, signal } = options;
  const max = options.maxSourceTags ?? 1000;
  let seen = 0;
  for await (const tag of source.client.tags(source.repository, { pageSize: 100, ...(signal ? { signal } : {}) })) {
    if (++seen > max) {
      throw new PermanentJobError(`source ${source.client.name}/${source.repository} has more than ${max} tags; refusing to delete ${digest} without checking them all`);
    }
    const head = await source.client.headManifest(source.repository, tag, signal);
    if (head?.digest === digest) return tag;
  }
  return undefined;
}
