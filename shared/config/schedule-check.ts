// Cron validation of `policies[].schedule`, kept out of schema.ts so that code which only
// re-reads an already validated config (the Lambda functions) does not bundle croner.
// croner is what `ferry serve` schedules with, so it decides what is valid.
import { Cron } from 'croner';
import type { PathProblem } from './issues.js';

/** Why a cron expression is invalid, or undefined. */
export function cronProblem(expression: string): string | undefined {
  try {
    new Cron(expression, { paused: true }).stop();
    return undefined;
  } catch (e) {
    return `invalid cron expression ${JSON.stringify(expression)}: ${(e as Error).message}`;
  }
}

/** Problems of every schedule that is a non-empty string (other shapes are the schema's to report). */
export function scheduleProblems(raw: unknown): PathProblem[] {
  if (typeof raw !== 'object' || raw === null || !Array.isArray((raw as { policies?: unknown }).policies)) return [];
  const policies = (raw as { policies: unknown[] }).policies;
  return policies.flatMap((p, i): PathProblem[] => {
    const schedule = typeof p === 'object' && p !== null ? (p as { schedule?: unknown }).schedule : undefined;
    if (typeof schedule !== 'string' || schedule === '') return [];
    const problem = cronProblem(schedule);
    return problem ? [{ path: ['policies', i, 'schedule'], message: problem }] : [];
  });
}
