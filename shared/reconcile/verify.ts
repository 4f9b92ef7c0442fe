// Verify one policy: the reconcile walk without enqueueing, returning how the destination
// differs from what the policy asks for. Tags left alone because of `override: false` are
// not differences (the policy says not to move them); extra tags are only differences when
// the policy propagates deletes.
import type { JobDestination } from '../jobs/model.js';
import { emptyCounts, isDifference, type DifferenceKind, type WalkCounts, type WalkIssue } from './types.js';
import { countEvent, resolvePolicy, walkPolicy, type WalkOptions } from './walk.js';

export interface Difference {
  kind: DifferenceKind;
  destination: JobDestination;
  /** Source repository. */
  repository: string;
  tag: string;
  sourceDigest?: string;
  destinationDigest?: string;
  /** The tag is there but these referrers are not. */
  missingReferrers?: string[];
}

export interface VerifyOptions extends WalkOptions {
  onProgress?: (counts: WalkCounts) => void;
}

export interface VerifyResult {
  policy: string;
  /** True when there are no differences and every registry call succeeded. */
  inSync: boolean;
  differences: Difference[];
  counts: WalkCounts;
  /** Registry failures (all of them: a verify that could not look is not a pass). */
  errors: WalkIssue[];
  ms: number;
}

export async function verifyPolicy(options: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  const policy = resolvePolicy(options.config, options.policy);
  const counts = emptyCounts();
  const differences: Difference[] = [];
  const errors: WalkIssue[] = [];
  const walk = walkPolicy({ ...options, policy });
  for await (const event of walk) {
    countEvent(counts, event);
    if (event.type === 'issue') errors.push(event.issue);
    if (event.type === 'repository' || event.type === 'issue') options.onProgress?.({ ...counts });
    if (event.type !== 'finding') continue;
    const { finding } = event;
    const kind = finding.kind;
    if (isDifference(kind)) {
      const difference: Difference = { kind, destination: finding.destination, repository: finding.repository, tag: finding.tag };
      if (finding.sourceDigest) difference.sourceDigest = finding.sourceDigest;
      if (finding.destinationDigest) difference.destinationDigest = finding.destinationDigest;
      if (finding.missingReferrers) difference.missingReferrers = finding.missingReferrers;
      differences.push(difference);
    }
    options.onProgress?.({ ...counts });
  }
  return { policy: policy.name, inSync: differences.length === 0 && errors.length === 0, differences, counts, errors, ms: Date.now() - started };
}
