// Removes expired terminal job records (config `retention`, default 30 days; docs/operations.md). DynamoDB does
// this itself; stores without native TTL expose purgeExpired and the host calls it.
import type { JobStore } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';

export function startRetention(store: JobStore, logger: Logger, everyMs = 3_600_000): { stop(): void } {
  const purge = store.purgeExpired?.bind(store);
  if (!purge) return { stop() {} };
  const run = () => {
    purge(Math.floor(Date.now() / 1000)).then(
      (removed) => { if (removed > 0) logger.info({ removed }, 'expired job records removed'); },
      (err: unknown) => logger.warn({ err }, 'purging expired job records failed'),
    );
  };
  run();
  const timer = setInterval(run, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
