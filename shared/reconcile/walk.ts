// The reconcile walk: source repositories in scope -> their tags in scope -> for each
// destination, compare digests with HEAD requests. Streams: repositories and tag pages are
// read as the comparisons consume them, with at most `concurrency` tags in flight, so a
// registry with 10,000+ tags never sits in memory. With `deletes: true` each destination
// repository's tags are listed too, and tags the source no longer has come out as extra.
//
// Repositories removed entirely at the source (deletes: true): Harbor and ECR drop a deleted
// repository from their catalog (Distribution keeps it listed, empty), so the source walk
// never sees it. After the source walk, which remembers the names it saw (names only), each
// destination's `_catalog` is streamed; a destination repository whose template inverts
// (sourceRepositoryFor) to a source name in the policy's scope that the walk did not see is
// confirmed gone at the source (its tags listing answers 404 or nothing), then its tags in
// scope come out as extra, named by the source repository. A source that answers otherwise
// (an error) gives an issue and the repository is skipped; one that lists tags has it after
// all (created since) and is left to the next walk. A destination catalog that cannot be
// read gives one issue for that destination (one refused with 401/403/404/405 is skipped
// silently: the registry does not offer it). Destinations whose template cannot be inverted
// (it loses information, e.g. "flat/{name}") are skipped silently, and so are policies whose
// repository patterns are all literal names (every repository in scope was walked).
import type { FerryConfig, PolicyConfig } from '../config/schema.js';
import type { JobDestination } from '../jobs/model.js';
import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import { renderRepository, sourceRepositoryFor } from '../config/template.js';
import { selectPlatforms } from '../replicate/platforms.js';
import { missingReferrers } from '../replicate/referrers.js';
import { mapBounded } from './bounded.js';
import { CATALOG_REFUSED, inRepositoryScope, literalRepositories, sourceRepositories, tagsInScope } from './scope.js';
import type { Finding, WalkCounts, WalkIssue } from './types.js';

export interface WalkOptions {
  config: Pick<FerryConfig, 'policies'>;
  clients: ReadonlyMap<string, RegistryClient>;
  /** The policy, or its name in config.policies. */
  policy: PolicyConfig | string;
  /** Tags compared at once (each: one source HEAD plus one HEAD per destination). Default 8. */
  concurrency?: number;
  /** `n=` for catalog and tag listings. Default 100. */
  pageSize?: number;
  signal?: AbortSignal;
}

export type WalkEvent =
  | { type: 'repository'; repository: string }
  | { type: 'tag'; repository: string; tag: string }
  | { type: 'finding'; finding: Finding }
  | { type: 'issue'; issue: WalkIssue };

export class UnknownPolicyError extends Error {
  override readonly name = 'UnknownPolicyError';
}

/** A policy or registry the config does not have: nothing can be walked. */
export class ReconcileSetupError extends Error {
  override readonly name = 'ReconcileSetupError';
}

export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_PAGE_SIZE = 100;

export function resolvePolicy(config: Pick<FerryConfig, 'policies'>, policy: PolicyConfig | string): PolicyConfig {
  if (typeof policy !== 'string') return policy;
  const found = config.policies.find((p) => p.name === policy);
  if (!found) {
    throw new UnknownPolicyError(`no policy named ${JSON.stringify(policy)} (configured: ${config.policies.map((p) => p.name).join(', ') || 'none'})`);
  }
  return found;
}

interface Target {
  destination: JobDestination;
  client: RegistryClient;
}

type Task =
  | { kind: 'tag'; repository: string; tag: string; targets: Target[] }
  | { kind: 'extras'; repository: string; sourceTags: ReadonlySet<string>; targets: Target[] }
  | { kind: 'events'; events: WalkEvent[] };

function clientFor(clients: ReadonlyMap<string, RegistryClient>, registry: string, policy: string): RegistryClient {
  const client = clients.get(registry);
  if (!client) throw new ReconcileSetupError(`policy ${policy}: registry ${JSON.stringify(registry)} has no client (is it configured?)`);
  return client;
}

function issueFrom(err: unknown, operation: string, where: Omit<WalkIssue, 'operation' | 'message'>): WalkIssue {
  const issue: WalkIssue = { operation, message: err instanceof Error ? err.message : String(err), ...where };
  if (err instanceof RegistryError) {
    if (err.status !== undefined) issue.status = err.status;
    if (err.registry && issue.registry === undefined) issue.registry = err.registry;
  }
  return issue;
}

/** Every event of the walk, in source order. Throws only when the policy cannot be walked at all (catalog unreadable, setup error). */
export async function* walkPolicy(options: WalkOptions): AsyncGenerator<WalkEvent> {
  const policy = resolvePolicy(options.config, options.policy);
  const source = clientFor(options.clients, policy.source, policy.name);
  const destinations = policy.destinations.map((d) => ({ template: d.repository, registry: d.registry, client: clientFor(options.clients, d.registry, policy.name) }));
  const listing = { pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE, ...(options.signal ? { signal: options.signal } : {}) };
  const signal = options.signal;
  const referrerSettings = { referrers: policy.referrers, referrerTypes: policy.referrerTypes, digestTags: policy.digestTags };

  // Source repositories the walk saw (names only), for repositories gone from the source catalog.
  const seen = policy.deletes && !literalRepositories(policy.repositories) ? new Set<string>() : undefined;

  async function* tasks(): AsyncGenerator<Task> {
    yield* sourceTasks();
    if (seen) for (const d of destinations) yield* goneTasks(d, seen);
  }

  async function* sourceTasks(): AsyncGenerator<Task> {
    for await (const repository of sourceRepositories(source, policy, listing)) {
      seen?.add(repository);
      const events: WalkEvent[] = [{ type: 'repository', repository }];
      const targets: Target[] = [];
      for (const d of destinations) {
        try {
          targets.push({ destination: { registry: d.registry, repository: renderRepository(d.template, repository) }, client: d.client });
        } catch (err) {
          events.push({ type: 'issue', issue: issueFrom(err, 'render destination repository', { registry: d.registry, repository }) });
        }
      }
      yield { kind: 'events', events };
      if (targets.length === 0) continue;
      // Tag names only, for this one repository, and only when deletes need the comparison.
      const sourceTags = policy.deletes ? new Set<string>() : undefined;
      let listed = true;
      try {
        for await (const tag of tagsInScope(source, repository, policy, listing)) {
          sourceTags?.add(tag);
          yield { kind: 'tag', repository, tag, targets };
        }
      } catch (err) {
        listed = false;
        yield { kind: 'events', events: [{ type: 'issue', issue: issueFrom(err, 'list source tags', { registry: policy.source, repository }) }] };
      }
      // An incomplete source listing would make every unlisted tag look extra.
      if (sourceTags && listed) yield { kind: 'extras', repository, sourceTags, targets };
    }
  }

  /** Extra tags of destination repositories whose source repository is gone (not in the source catalog). */
  async function* goneTasks(d: (typeof destinations)[number], seenAtSource: ReadonlySet<string>): AsyncGenerator<Task> {
    const catalog = d.client.catalog(listing)[Symbol.asyncIterator]();
    try {
      yield* goneInCatalog(d, catalog, seenAtSource);
    } finally {
      // Stopped early (signal, consumer gone): close the listing.
      await catalog.return?.();
    }
  }

  async function* goneInCatalog(d: (typeof destinations)[number], catalog: AsyncIterator<string>, seenAtSource: ReadonlySet<string>): AsyncGenerator<Task> {
    for (;;) {
      let next: IteratorResult<string>;
      try {
        next = await catalog.next();
      } catch (err) {
        // Many registries (Docker Hub, GHCR, ...) do not offer their catalog to ferry's
        // credentials: removed repositories cannot be found there, which is no drift. Other
        // failures (5xx, network) are reported.
        if (err instanceof RegistryError && err.status !== undefined && CATALOG_REFUSED.has(err.status)) return;
        yield { kind: 'events', events: [{ type: 'issue', issue: issueFrom(err, 'list destination catalog', { registry: d.registry }) }] };
        return;
      }
      if (next.done) return;
      const destination: JobDestination = { registry: d.registry, repository: next.value };
      const repository = sourceRepositoryFor(d.template, destination.repository);
      if (repository === undefined || seenAtSource.has(repository) || !inRepositoryScope(policy, repository)) continue;
      // Confirm at the source: a repository that is really gone lists no tags (404 NAME_UNKNOWN or []).
      try {
        let hasTags = false;
        for await (const _tag of source.tags(repository, { ...listing, pageSize: 1 })) {
          hasTags = true;
          break;
        }
        // Created since the catalog was read: the next walk compares it.
        if (hasTags) continue;
      } catch (err) {
        yield { kind: 'events', events: [{ type: 'issue', issue: issueFrom(err, 'list source tags', { registry: policy.source, repository, destination }) }] };
        continue;
      }
      // One small task per tag: nothing per tag is held beyond the walk's window.
      try {
        for await (const tag of tagsInScope(d.client, destination.repository, policy, listing)) {
          yield { kind: 'events', events: [{ type: 'finding', finding: { kind: 'extra', repository, tag, destination } }] };
        }
      } catch (err) {
        yield { kind: 'events', events: [{ type: 'issue', issue: issueFrom(err, 'list destination tags', { registry: d.registry, repository, destination }) }] };
      }
    }
  }

  async function compareTag(task: Extract<Task, { kind: 'tag' }>): Promise<WalkEvent[]> {
    const { repository, tag } = task;
    const events: WalkEvent[] = [{ type: 'tag', repository, tag }];
    let sourceDigest: string;
    try {
      const head = await source.headManifest(repository, tag, signal);
      // Deleted between the listing and now: the next walk (or its delete event) sees it.
      if (!head) return events;
      sourceDigest = head.digest;
      if (policy.platforms) {
        // The destination holds the platform selection, not the source index: compare with that.
        const manifest = await source.getManifest(repository, tag, signal);
        if (!manifest) return events;
        const selection = selectPlatforms(manifest, policy.platforms, { registry: policy.source, repository, reference: tag });
        sourceDigest = selection.kind === 'one' ? selection.child.digest : selection.kind === 'index' ? selection.manifest.digest : manifest.digest;
      }
    } catch (err) {
      events.push({ type: 'issue', issue: issueFrom(err, 'HEAD source manifest', { registry: policy.source, repository, tag }) });
      return events;
    }
    const results = await Promise.all(task.targets.map(async ({ destination, client }): Promise<WalkEvent> => {
      try {
        const head = await client.headManifest(destination.repository, tag, signal);
        const finding: Finding = { kind: 'in-sync', repository, tag, destination, sourceDigest };
        if (!head) finding.kind = 'missing';
        else {
          finding.destinationDigest = head.digest;
          if (head.digest !== sourceDigest) finding.kind = policy.override ? 'different' : 'kept';
        }
        if (finding.kind === 'in-sync') {
          // The image is there; its signatures, SBOMs and attestations must be too.
          const lacking = await missingReferrers({ client: source, repository }, { client, repository: destination.repository }, [sourceDigest], referrerSettings, signal);
          if (lacking.length > 0) Object.assign(finding, { kind: 'missing', missingReferrers: lacking });
        }
        return { type: 'finding', finding };
      } catch (err) {
        return { type: 'issue', issue: issueFrom(err, 'HEAD destination manifest', { registry: destination.registry, repository, tag, destination }) };
      }
    }));
    events.push(...results);
    return events;
  }

  async function findExtras(task: Extract<Task, { kind: 'extras' }>): Promise<WalkEvent[]> {
    const perTarget = await Promise.all(task.targets.map(async ({ destination, client }): Promise<WalkEvent[]> => {
      const events: WalkEvent[] = [];
      try {
        for await (const tag of tagsInScope(client, destination.repository, policy, listing)) {
          if (!task.sourceTags.has(tag)) events.push({ type: 'finding', finding: { kind: 'extra', repository: task.repository, tag, destination } });
        }
      } catch (err) {
        events.push({ type: 'issue', issue: issueFrom(err, 'list destination tags', { registry: destination.registry, repository: task.repository, destination }) });
      }
      return events;
    }));
    return perTarget.flat();
  }

  const run = (task: Task): Promise<WalkEvent[]> => {
    if (task.kind === 'tag') return compareTag(task);
    if (task.kind === 'extras') return findExtras(task);
    return Promise.resolve(task.events);
  };

  for await (const events of mapBounded(tasks(), options.concurrency ?? DEFAULT_CONCURRENCY, run)) {
    signal?.throwIfAborted();
    yield* events;
  }
}

/** Adds one walk event to the tallies. */
export function countEvent(counts: WalkCounts, event: WalkEvent): void {
  switch (event.type) {
    case 'repository': counts.repositories++; break;
    case 'tag': counts.tags++; break;
    case 'issue': counts.errors++; break;
    case 'finding': {
      const kind = event.finding.kind;
      if (kind === 'in-sync') counts.inSync++;
      else counts[kind]++;
      break;
    }
  }
}
