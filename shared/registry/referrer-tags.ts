// The two digest-tag schemes as pure functions of a tag: the OCI referrers tag schema
// (`sha256-<hex>`) and cosign's (`sha256-<hex>.sig|att|sbom`). Apart from referrers.ts so
// that policy code (shared/policy/plan.ts, which the Lambda webhook loads at start) does
// not import the registry transport.

/** Cosign's legacy digest tag suffixes: signature, attestation, SBOM. */
export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;

/** The referrers tag schema's tag for a subject: `sha256:<hex>` -> `sha256-<hex>`. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}

/** Cosign's tag for a subject: `sha256-<hex>.sig` (or .att, .sbom). */
export function cosignTag(digest: string, suffix: (typeof COSIGN_SUFFIXES)[number]): string {
  return `${referrersTag(digest)}.${suffix}`;
}

const REFERRER_TAG_RE = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})(?:\.(sig|att|sbom))?$/;

/**
 * What a tag means under the two digest-tag schemes: the referrers index of a subject
 * (`sha256-<hex>`), a cosign artifact of it (`sha256-<hex>.sig`), or nothing (undefined).
 */
export function parseReferrerTag(tag: string): { subject: string; kind: 'index' | 'cosign' } | undefined {
  const m = REFERRER_TAG_RE.exec(tag);
  if (!m) return undefined;
  const length = m[1] === 'sha256' ? 64 : 128;
  if (m[2]!.length !== length) return undefined;
  return { subject: `${m[1]}:${m[2]}`, kind: m[3] ? 'cosign' : 'index' };
}

/**
 * Whether a tag is a referrer tag that follows its subject under these settings (referrers:
 * the `sha256-<hex>` index; digestTags: cosign's tags) rather than the tag filter.
 */
export function followsSubject(settings: { referrers?: boolean; digestTags?: boolean }, tag: string): boolean {
  const parsed = parseReferrerTag(tag);
  if (!parsed) return false;
  return (parsed.kind === 'index' ? settings.referrers : settings.digestTags) ?? true;
}
