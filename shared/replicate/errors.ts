// Failures the copy engine knows no retry can fix. The job runner dead-letters them at once
// instead of spending attempts (shared/jobs/classify.ts).

/** Thrown by job logic that knows retrying cannot help (e.g. the job's policy no longer exists). */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}
