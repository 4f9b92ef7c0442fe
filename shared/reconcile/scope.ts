// Which source repositories and tags a policy covers. A policy whose repository patterns
// are all plain names needs no `_catalog` (which hosted registries often restrict to
// admins); anything with a wildcard is matched against the catalog.
import type { PolicyConfig } from '../config/schema.js';
import { isRepository, isTag } from '../oci/grammar.js';
import { globSet } from '../policy/match.js';
import type { RegistryClient } from '../registry/client.js';

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

export function inTagScope(policy: Pick<PolicyConfig, 'tags'>, tag: string): boolean {
  return isTag(tag) && globSet(policy.tags).test(tag);
}

export interface ListingOptions {
  pageSize?: number;
  signal?: AbortSignal;
}

/** Source repositories in scope, streamed page by page from the catalog when needed. */
export async function* sourceRepositories(source: RegistryClient, policy: Pick<PolicyConfig, 'repositories'>, options: ListingOptions = {}): AsyncGenerator<string> {
  const fixed = literalRepositories(policy.repositories);
  if (fixed) {
    yield* fixed;
    return;
  }
  for await (const repository of source.catalog(listOptions(options))) {
    if (inRepositoryScope(policy, repository)) yield repository;
  }
}

/** Tags of a repository in scope, streamed page by page. */
export async function* tagsInScope(client: RegistryClient, repository: string, policy: Pick<PolicyConfig, 'tags'>, options: ListingOptions = {}): AsyncGenerator<string> {
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
