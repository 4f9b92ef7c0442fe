// The reconcile engine: initial replication, drift repair and verification.
export { reconcilePolicy, planItem, jobSpec, ReconcileOptionsError, MAX_REPORTED_ISSUES } from './reconcile.js';
export type { ReconcileOptions, ReconcileResult, ReconcileProgress, PlanItem, EnqueuedJob } from './reconcile.js';
export { verifyPolicy } from './verify.js';
export type { VerifyOptions, VerifyResult, Difference } from './verify.js';
export { createSync, syncPolicies, policiesToSync, summarize } from './sync.js';
export type { SyncDeps, SyncFn, SyncRequest, SyncPoliciesOptions, SyncPoliciesResult, PolicySyncSummary } from './sync.js';
export { walkPolicy, resolvePolicy, countEvent, UnknownPolicyError, ReconcileSetupError, DEFAULT_CONCURRENCY, DEFAULT_PAGE_SIZE } from './walk.js';
export type { WalkOptions, WalkEvent } from './walk.js';
export { literalRepositories, sourceRepositories, tagsInScope, inRepositoryScope, inTagScope } from './scope.js';
export type { Finding, FindingKind, WalkIssue, WalkCounts, DifferenceKind } from './types.js';
export { awaitJobs } from './await-jobs.js';
export type { AwaitJobsOptions, JobTally } from './await-jobs.js';
