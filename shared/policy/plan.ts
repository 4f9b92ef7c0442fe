// Events -> job specs. Pure: no I/O, so the webhook, tests and dry runs share one answer to
// "what would this event replicate, and if nothing, why not".
import type { FerryConfig, PolicyConfig } from '../config/schema.js';
import type { IgnoredEvent, NormalizedEvent } from '../events/types.js';
import type { JobSpec } from '../jobs/enqueue.js';
import { jobKey } from '../jobs/model.js';
import { matchesRepository, matchesTag } from './match.js';
import { renderRepository, TemplateError } from './template.js';

/** A job spec plus the event that asked for it (the trigger and the response's reason). */
export interface PlannedJob extends JobSpec {
  event: NormalizedEvent;
}

export interface Plan {
  specs: PlannedJob[];
  ignored: IgnoredEvent[];
}

export type PlanConfig = Pick<FerryConfig, 'policies'>;

/** Manifest types that list other manifests (multi-arch images). */
export const INDEX_MEDIA_TYPES: readonly string[] = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_MEDIA_TYPES.includes(mediaType.split(';')[0]!.trim().toLowerCase());
}

export const UNTAGGED_MANIFEST_REASON = 'untagged manifest (index child or digest push): replicated with its index/tag';

/**
 * The multi-arch rule. A multi-arch push reaches ferry as separate requests (Distribution
 * sends one event per POST): each child manifest pushed by digest without a tag, then the
 * index with its tag. The index's tag job copies every child first (DESIGN 6.3), so jobs
 * for the children would only repeat that work. Hence a push that names no tag and whose
 * media type is known to be a single-platform manifest is ignored. Digest-only pushes
 * of an index, or whose media type the sender does not report, follow their repository
 * (DESIGN 3). Cost: a single-platform image pushed only by digest is not replicated, as
 * no event distinguishes it from an index child.
 */
export function isUntaggedChildManifest(event: NormalizedEvent): boolean {
  return event.action === 'push' && !event.tag && event.digest !== undefined
    && event.mediaType !== undefined && event.mediaType !== '' && !isIndexMediaType(event.mediaType);
}

function describe(event: NormalizedEvent): string {
  if (event.tag) return `${event.repository}:${event.tag}`;
  return `${event.repository}@${event.digest ?? '?'}`;
}

const NO_REPOSITORY_MATCH = 'repository not covered';

/** Why one policy does not take the event, or undefined when it does. */
function policyRejects(policy: PolicyConfig, event: NormalizedEvent): string | undefined {
  if (!matchesRepository(policy.repositories, event.repository)) return NO_REPOSITORY_MATCH;
  if (event.action === 'delete' && !policy.deletes) return `delete not propagated (policy ${policy.name} has deletes: false)`;
  // Digest-only events follow their repository: the tag filter only sees tags.
  if (event.tag !== undefined && !matchesTag(policy.tags, event.tag)) return `tag ${event.tag} filtered out by policy ${policy.name}`;
  return undefined;
}

/**
 * One spec per (policy with this source, destination, repository, reference), where the
 * reference is the tag when the event has one, else the digest. Specs with an equal job
 * key within the batch are kept once. Events that make no spec come back in `ignored`.
 */
export function planJobs(config: PlanConfig, registryName: string, events: readonly NormalizedEvent[]): Plan {
  const specs: PlannedJob[] = [];
  const ignored: IgnoredEvent[] = [];
  const seen = new Set<string>();
  const policies = config.policies.filter((p) => p.source === registryName);

  for (const event of events) {
    const reference = event.tag ?? event.digest;
    const ignore = (reason: string) => ignored.push({ reason, id: event.id });
    if (!reference) { ignore(`${event.action} ${event.repository}: no tag or digest`); continue; }
    if (isUntaggedChildManifest(event)) { ignore(UNTAGGED_MANIFEST_REASON); continue; }
    if (policies.length === 0) { ignore(`no policy has source ${registryName}`); continue; }

    const reasons = new Set<string>();
    let planned = 0;
    let duplicates = 0;
    for (const policy of policies) {
      const rejection = policyRejects(policy, event);
      if (rejection) { reasons.add(rejection); continue; }
      for (const dest of policy.destinations) {
        let repository: string;
        try {
          repository = renderRepository(dest.repository, event.repository);
        } catch (e) {
          if (!(e instanceof TemplateError)) throw e;
          reasons.add(`policy ${policy.name}: ${e.message}`);
          continue;
        }
        const destination = { registry: dest.registry, repository };
        const key = jobKey(policy.name, destination, reference);
        if (seen.has(key)) { duplicates++; continue; }
        seen.add(key);
        planned++;
        specs.push({
          policy: policy.name,
          source: { registry: registryName, repository: event.repository, reference, ...(event.digest ? { digest: event.digest } : {}) },
          destination,
          event,
        });
      }
    }
    if (planned > 0) continue;
    if (duplicates > 0) ignore(`${event.action} ${describe(event)}: duplicate of an earlier event in this request`);
    else if (reasons.size === 1 && reasons.has(NO_REPOSITORY_MATCH)) ignore(`${event.action} ${describe(event)}: repository ${event.repository} matches no policy of ${registryName}`);
    else {
      reasons.delete(NO_REPOSITORY_MATCH);
      ignore(`${event.action} ${describe(event)}: ${[...reasons].join('; ')}`);
    }
  }
  return { specs, ignored };
}

/** The response's human reason for a planned job, e.g. "push team/app:v1". */
export function planReason(job: PlannedJob): string {
  return `${job.event.action} ${describe(job.event)}`;
}
