// Which source repositories and tags a policy covers. A policy whose repository patterns
// are all plain names needs no `_catalog` (which hosted registries often restrict to
// admins); anything with a wildcard is matched against the catalog.
import type { PolicyConfig } from '../config/schema.js';
import { isRepository, isTag } from '../oci/grammar.js';
import { globSet } from '../policy/match.js';
import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import { followsSubject } from '../registry/referrers.js';

/** Answers to `_catalog` meaning "no catalog for you" (hosted registries: Docker Hub, GHCR, ...). */
export const CATALOG_REFUSED: ReadonlySet<number> = new Set([401, 403, 404, 405]);

/**
 * A policy with repository wildcards over a source that does not list its repositories:
 * nothing can be walked, and "in sync" would be a lie. A usage error (exit 2): the fix is
 * in the config.
 */
export class CatalogUnavailableError extends Error {
  override readonly name = 'CatalogUnavailableError';
  constructor(readonly registry: string, readonly policy: string, readonly status: number | undefined) {
    super(`policy ${policy}: registry ${registry} does not list its repositories (GET /v2/_catalog -> HTTP ${status ?? '?'}); list the repositories literally in policies[].repositories (no wildcards) to sync or verify from it`);
  }
}

/**
 * The fixed repository names of a pattern list, or undefined when a catalog listing is
 * needed (a wildcard include, or only excludes). A valid repository name contains no glob
 * syntax, so "is a valid name" is exactly "is literal". Excludes still apply.
 */
export function literalRepositories(patterns: readonly string[]): string[] | undefined {
  const set = globSet(patterns);
  if (set.includes.length === 0 || !set.includes.every(isRepository)) return undefined;
  return [...new Set(set.includes)].filter((name) => set.test(name));
}

/** Repository names from a registry are validated before they reach a URL. */
export function inRepositoryScope(policy: Pick<PolicyConfig, 'repositories'>, repository: string): boolean {
  return isRepository(repository) && globSet(policy.repositories).test(repository);
}

/** A policy's tag settings (referrers and digestTags default to true, as in the config). */
export type TagScope = Pick<PolicyConfig, 'tags'> & Partial<Pick<PolicyConfig, 'referrers' | 'digestTags'>>;

/** Referrer tags the policy follows are compared with their subject, never as tags of their own. */
export function inTagScope(policy: TagScope, tag: string): boolean {
  return isTag(tag) && !followsSubject(policy, tag) && globSet(policy.tags, 'tag').test(tag);
}

export interface ListingOptions {
  pageSize?: number;
  signal?: AbortSignal;
}

/** Source repositories in scope, streamed page by page from the catalog when needed. */
export async function* sourceRepositories(source: RegistryClient, policy: Pick<PolicyConfig, 'repositories' | 'name'>, options: ListingOptions = {}): AsyncGenerator<string> {
  const fixed = literalRepositories(policy.repositories);
  if (fixed) {
    yield* fixed;
    return;
  }
  const catalog = source.catalog(listOptions(options))[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<string>;
      try {
        next = await catalog.next();
      } catch (err) {
        if (err instanceof RegistryError && err.status !== undefined && CATALOG_REFUSED.has(err.status)) {
          throw new CatalogUnavailableError(source.name, policy.name, err.status);
        }
        throw err;
      }
      if (next.done) return;
      if (inRepositoryScope(policy, next.value)) yield next.value;
    }
  } finally {
    await catalog.return?.();
  }
}

/** Tags of a repository in scope, streamed page by page. */
export async function* tagsInScope(client: RegistryClient, repository: string, policy: TagScope, options: ListingOptions = {}): AsyncGenerator<string> {
  for await (const tag of client.tags(repository, listOptions(options))) {
    if (inTagScope(policy, tag)) yield tag;
  }
}

function listOptions(options: ListingOptions): { pageSize?: number; signal?: AbortSignal } {
  return {
    ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}
