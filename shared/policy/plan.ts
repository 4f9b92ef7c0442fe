// Events -> job specs. Pure: no I/O, so the webhook, tests and dry runs share one answer to
// "what would this event replicate, and if nothing, why not".
import { parseDuration, type FerryConfig, type PolicyConfig } from '../config/schema.js';
import type { IgnoredEvent, NormalizedEvent } from '../events/types.js';
import { MAX_DELAY_SECONDS, type JobSpec } from '../jobs/enqueue.js';
import { jobKey } from '../jobs/model.js';
import { followsSubject } from '../registry/referrer-tags.js';
import { matchesRepository, matchesTag } from './match.js';
import { renderRepository, TemplateError } from '../config/template.js';

/** A job spec plus the event that asked for it (the trigger and the response's reason). */
export interface PlannedJob extends JobSpec {
  event: NormalizedEvent;
}

export interface Plan {
  specs: PlannedJob[];
  ignored: IgnoredEvent[];
  /**
   * Destinations dropped because their repository template could not render this event's
   * repository (e.g. past 255 characters), whether or not the event made other jobs: an
   * operator must hear of these, not find a silent 202.
   */
  templateProblems: IgnoredEvent[];
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

/** Default deferral of a digest-only single-platform manifest push (seconds). */
export const DIGEST_PUSH_DELAY_SECONDS = 30;
/** Longest deferral: SQS DelaySeconds allows at most 15 minutes, and both backends must agree. */
export const MAX_DIGEST_PUSH_DELAY_SECONDS = MAX_DELAY_SECONDS;
/** Environment variable the hosts (ferry serve, the webhook Lambda) read the deferral from. */
export const DIGEST_PUSH_DELAY_ENV = 'FERRY_DIGEST_PUSH_DELAY';

export interface PlanOptions {
  /**
   * How long a digest-only push of a single-platform manifest waits before its job may run
   * (seconds, 0..900; 0 = no deferral). Default DIGEST_PUSH_DELAY_SECONDS.
   */
  digestPushDelaySeconds?: number;
}

/**
 * The multi-arch rule. A multi-arch push reaches ferry as separate requests (Distribution
 * sends one event per POST): each child manifest pushed by digest without a tag, then the
 * index with its tag. Nothing in a child's event tells it apart from a single-platform
 * image pushed only by digest, and the tag filter only sees tags (docs/contract.md: digest-only
 * pushes follow their repository), so both are planned like any digest-only event. But a
 * job for a child would only repeat what the index's tag job does (it copies every child
 * first, docs/architecture.md "The copy engine"), and running at once it would race that job over the same blobs. So
 * a push that names no tag and whose media type is known to be a single-platform manifest
 * is planned with a deferral (`delaySeconds`, default 30 s): its message becomes
 * receivable only after the delay, while its record stays `queued`. The index's job
 * arrives right after the children and runs first; when the deferred job runs, the
 * destination already has the digest and the job ends `skipped` (copyImage: "destination
 * ... already has sha256:..."), having cost one manifest GET at the source and one HEAD at
 * the destination. A digest-only single-platform image (no index coming) is simply
 * replicated after the delay.
 *
 * Cost: one cheap skipped job per child of a multi-arch push (per destination), after the
 * delay, plus the delay itself for images pushed only by digest. An index job that is
 * still copying when the delay ends does not make the deferred job wrong, only redundant:
 * it copies what is missing (blob by blob, skipping what exists) and converges the same.
 * Digest-only pushes of an index, or whose media type the sender does not report, are not
 * deferred (no index job would copy them). Deletes are not deferred; but like any event,
 * one whose job key (policy, destination, digest) already has a queued job joins that job,
 * so a delete of a digest whose deferred push job still waits takes effect when it runs.
 */
export function isDigestOnlyManifestPush(event: NormalizedEvent): boolean {
  return event.action === 'push' && !event.tag && event.digest !== undefined
    && event.mediaType !== undefined && event.mediaType !== '' && !isIndexMediaType(event.mediaType);
}

/** Checks a deferral: a whole or fractional number of seconds in 0..900. */
export function digestPushDelayProblem(seconds: number): string | undefined {
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > MAX_DIGEST_PUSH_DELAY_SECONDS) {
    return `digest push delay must be between 0 and ${MAX_DIGEST_PUSH_DELAY_SECONDS} seconds, got ${seconds}`;
  }
  return undefined;
}

/**
 * The deferral from the environment (DIGEST_PUSH_DELAY_ENV: "30s", "500ms", "2m" or a
 * number of seconds), or undefined when unset. Throws on a malformed or out-of-range value.
 */
export function digestPushDelayFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env[DIGEST_PUSH_DELAY_ENV]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const seconds = /^\d+(?:\.\d+)?$/.test(raw) ? Number(raw) : parseDurationSeconds(raw);
  const problem = seconds === undefined ? `use e.g. 30s, 500ms or 2m, got ${JSON.stringify(raw)}` : digestPushDelayProblem(seconds);
  if (problem) throw new RangeError(`${DIGEST_PUSH_DELAY_ENV}: ${problem}`);
  return seconds;
}

function parseDurationSeconds(text: string): number | undefined {
  try {
    return parseDuration(text) / 1000;
  } catch {
    return undefined;
  }
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
  // Digest-only events follow their repository: the tag filter only sees tags. A pushed
  // referrer tag (`sha256-<hex>` index, cosign's `sha256-<hex>.sig`) follows its subject
  // instead: its job copies the subject's referrers if the subject is at the destination.
  if (event.tag !== undefined && !(event.action === 'push' && followsSubject(policy, event.tag)) && !matchesTag(policy.tags, event.tag)) {
    return `tag ${event.tag} filtered out by policy ${policy.name}`;
  }
  return undefined;
}

/**
 * One spec per (policy with this source, destination, repository, reference), where the
 * reference is the tag when the event has one, else the digest. Specs with an equal job
 * key within the batch are kept once. Events that make no spec come back in `ignored`.
 * Digest-only pushes of single-platform manifests carry `delaySeconds` (the multi-arch
 * rule above).
 */
export function planJobs(config: PlanConfig, registryName: string, events: readonly NormalizedEvent[], options: PlanOptions = {}): Plan {
  const delay = options.digestPushDelaySeconds ?? DIGEST_PUSH_DELAY_SECONDS;
  const delayProblem = digestPushDelayProblem(delay);
  if (delayProblem) throw new RangeError(delayProblem);
  const specs: PlannedJob[] = [];
  const ignored: IgnoredEvent[] = [];
  const templateProblems: IgnoredEvent[] = [];
  const seen = new Set<string>();
  const policies = config.policies.filter((p) => p.source === registryName);

  for (const event of events) {
    const reference = event.tag ?? event.digest;
    const ignore = (reason: string) => ignored.push({ reason, id: event.id });
    if (!reference) { ignore(`${event.action} ${event.repository}: no tag or digest`); continue; }
    if (policies.length === 0) { ignore(`no policy has source ${registryName}`); continue; }

    const deferral = delay > 0 && isDigestOnlyManifestPush(event) ? { delaySeconds: delay } : {};
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
          const reason = `policy ${policy.name}: destination ${dest.registry}: ${e.message}`;
          reasons.add(reason);
          templateProblems.push({ reason: `${event.action} ${describe(event)}: ${reason}`, id: event.id });
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
          ...deferral,
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
  return { specs, ignored, templateProblems };
}

/**
 * The response's human reason for a planned job, e.g. "push team/app:v1", or for a
 * deferred one "push team/app@sha256:...; runs in 30 s (...)".
 */
export function planReason(job: PlannedJob): string {
  const what = `${job.event.action} ${describe(job.event)}`;
  if (!job.delaySeconds) return what;
  return `${what}; runs in ${job.delaySeconds} s (an untagged manifest may be a child of an index pushed next, whose job copies it first)`;
}
