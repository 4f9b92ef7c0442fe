// What a reconcile walk finds for one (destination, repository, tag), and what it reports
// when a registry call fails. Shared by reconcile (enqueue), dry-run plans and verify.
import type { JobDestination } from '../jobs/model.js';

/**
 * - missing: the source has the tag, the destination does not (or has it without all of
 *   its referrers: then missingReferrers says which);
 * - different: both have it, with different digests (and the policy may move tags);
 * - kept: both have it, digests differ, but `override: false` forbids moving it;
 * - extra: the destination has a tag in scope the source no longer has (deletes: true only);
 * - in-sync: same digest at both ends.
 */
export type FindingKind = 'missing' | 'different' | 'kept' | 'extra' | 'in-sync';

export interface Finding {
  kind: FindingKind;
  /** Source repository (the destination repository is rendered from it). */
  repository: string;
  tag: string;
  destination: JobDestination;
  sourceDigest?: string;
  destinationDigest?: string;
  /** Tag in sync but referrers (signatures, SBOMs, ...) missing at the destination: what lacks. */
  missingReferrers?: string[];
}

/** A registry call that failed during the walk; the walk goes on with the next item. */
export interface WalkIssue {
  /** What was being done: "list tags", "HEAD source manifest", ... */
  operation: string;
  message: string;
  registry?: string;
  repository?: string;
  tag?: string;
  destination?: JobDestination;
  /** HTTP status of the failing call, when there was one. */
  status?: number;
}

export interface WalkCounts {
  /** Source repositories in scope that were walked. */
  repositories: number;
  /** Source tags in scope that were compared (once per tag, whatever the destinations). */
  tags: number;
  missing: number;
  different: number;
  kept: number;
  extra: number;
  inSync: number;
  errors: number;
}

export function emptyCounts(): WalkCounts {
  return { repositories: 0, tags: 0, missing: 0, different: 0, kept: 0, extra: 0, inSync: 0, errors: 0 };
}

/** Differences verify reports: the destination does not match what the policy asks for. */
export type DifferenceKind = 'missing' | 'different' | 'extra';

export function isDifference(kind: FindingKind): kind is DifferenceKind {
  return kind === 'missing' || kind === 'different' || kind === 'extra';
}
