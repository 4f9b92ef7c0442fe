// Every repository, tag and digest from a payload passes the OCI grammar before it can
// reach a URL (docs/architecture.md, "Rules the design keeps"). Errors name the field it came from.
import { isDigest, isTag, repositoryProblem } from '../../oci/grammar.js';
import { fieldError } from './errors.js';

export function checkRepository(value: string | undefined, format: string, field: string): string {
  if (value === undefined) throw fieldError(format, field, 'is missing');
  const problem = repositoryProblem(value);
  if (problem) throw fieldError(format, field, problem);
  return value;
}

/** A colon never appears in a tag, so a value with one is meant as a digest. */
export function looksLikeDigest(value: string): boolean {
  return value.includes(':');
}

export function checkTag(value: string, format: string, field: string): string {
  if (value.length > 128) throw fieldError(format, field, `tag is ${value.length} characters (max 128)`);
  if (looksLikeDigest(value)) throw fieldError(format, field, `${JSON.stringify(value.slice(0, 80))} is a digest, not a tag`);
  if (!isTag(value)) throw fieldError(format, field, `tag ${JSON.stringify(value.slice(0, 80))} breaks the OCI tag grammar`);
  return value;
}

export function checkDigest(value: string, format: string, field: string): string {
  if (!isDigest(value)) throw fieldError(format, field, `digest ${JSON.stringify(value.slice(0, 80))} is not a valid sha256/sha512 digest`);
  return value;
}

/** A reference field that holds either a tag or a digest (zot, Gitea versions, Harbor tags). */
export function splitReference(value: string, format: string, field: string): { tag?: string; digest?: string } {
  return looksLikeDigest(value)
    ? { digest: checkDigest(value, format, field) }
    : { tag: checkTag(value, format, field) };
}
