// `tags/list` and `_catalog`, paged with `n=` and followed through `Link: <...>; rel="next"`.
import { CATALOG_SCOPE, repositoryScope } from './auth.js';
import type { RegistrySession } from './session.js';
import { readAll } from './transport.js';

export interface ListOptions {
  /** Page size asked for (`n=`); registries may return fewer. */
  pageSize?: number;
  signal?: AbortSignal;
}

/** The `next` target of a Link header, or undefined on the last page. */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*(.*)$/.exec(part);
    if (m && /(?:^|;)\s*rel\s*=\s*"?next"?/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

/** Tags of a repository; a repository the registry does not know yields nothing. */
export function listTags(session: RegistrySession, repository: string, options: ListOptions = {}): AsyncIterable<string> {
  return paginate(session, `/v2/${repository}/tags/list`, 'tags', [repositoryScope(repository, ['pull'])], { repository }, options, true);
}

/**
 * Repositories in the registry's catalog (often restricted to admins on hosted registries).
 * A 404 is an error (status 404) like 401/403: the registry has no catalog to offer, which
 * is not the same as an empty one.
 */
export function listCatalog(session: RegistrySession, options: ListOptions = {}): AsyncIterable<string> {
  return paginate(session, '/v2/_catalog', 'repositories', [CATALOG_SCOPE], {}, options, false);
}

async function* paginate(
  session: RegistrySession, path: string, field: 'tags' | 'repositories', scopes: string[],
  context: { repository?: string }, options: ListOptions, notFoundIsEmpty: boolean,
): AsyncGenerator<string> {
  let url: URL | undefined = session.resolve(path);
  if (options.pageSize) url.searchParams.set('n', String(options.pageSize));
  const seen = new Set<string>();
  while (url) {
    // A registry that loops its Link header would page forever.
    if (seen.has(url.href)) return;
    seen.add(url.href);
    const res = await session.request({ method: 'GET', url, scopes, context, ...(options.signal ? { signal: options.signal } : {}) });
    if (res.status === 404 && notFoundIsEmpty) {
      await res.body.dump();
      return;
    }
    if (res.status !== 200) await session.fail(res, { method: 'GET', ...context }, `list ${field} of ${context.repository ?? 'the catalog'}`);
    const bytes = await readAll(res.body, 16 * 1024 * 1024, () => session.error(`${field} page from registry ${session.registry} is over 16 MiB`, context));
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw session.error(`${field} page from registry ${session.registry} is not JSON`, { ...context, status: res.status });
    }
    const items = json[field];
    if (Array.isArray(items)) {
      for (const item of items) if (typeof item === 'string') yield item;
    }
    const next = nextLink(res.header('link'));
    url = next ? new URL(next, url) : undefined;
    if (url && !session.sameOrigin(url)) {
      throw session.error(`registry ${session.registry} sent a Link to another origin (${url.origin}); refusing to follow`, context);
    }
  }
}
