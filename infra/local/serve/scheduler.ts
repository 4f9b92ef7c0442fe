// Periodic reconcile per policy (`policies[].schedule`, cron). Runs never overlap for one
// policy (croner's protect), and a failing run is logged, never fatal.
import { Cron } from 'croner';
import type { FerryConfig } from '../../../shared/config/schema.js';
import type { Logger } from '../../../shared/observability/logger.js';
import type { SyncFn } from '../../../shared/reconcile/sync.js';

export interface Scheduler {
  /** Policy name -> next run, for the startup log. */
  readonly next: Record<string, string | undefined>;
  stop(): void;
}

/** Validates every schedule up front so a typo fails `ferry serve` at start, with the policy named. */
export function validateSchedules(config: FerryConfig): string[] {
  const problems: string[] = [];
  for (const p of config.policies) {
    if (!p.schedule) continue;
    try {
      new Cron(p.schedule, { paused: true, mode: '5-or-6-parts' }).stop();
    } catch (err) {
      problems.push(`policies.${p.name}.schedule: ${(err as Error).message}`);
    }
  }
  return problems;
}

export function startScheduler(config: FerryConfig, sync: SyncFn, logger: Logger): Scheduler {
  const jobs: Cron[] = [];
  const next: Record<string, string | undefined> = {};
  for (const policy of config.policies) {
    if (!policy.schedule) continue;
    const job = new Cron(
      policy.schedule,
      {
        name: `reconcile:${policy.name}`,
        mode: '5-or-6-parts',
        protect: () => logger.warn({ policy: policy.name }, 'scheduled reconcile skipped: the previous run is still going'),
        unref: true,
      },
      async () => {
        const started = Date.now();
        try {
          const result = await sync({ policy: policy.name, trigger: 'schedule' });
          logger.info({ policy: policy.name, ms: Date.now() - started, result }, 'scheduled reconcile done');
        } catch (err) {
          logger.error({ policy: policy.name, err }, 'scheduled reconcile failed');
        }
      },
    );
    jobs.push(job);
    next[policy.name] = job.nextRun()?.toISOString();
  }
  return {
    next,
    stop() {
      for (const j of jobs) j.stop();
    },
  };
}
