// `ferry serve`: load the config, start the host, and drain on SIGTERM/SIGINT. A second
// signal during the drain exits at once (the queue's visibility timeout then returns the
// unfinished jobs, so nothing is lost either way).
import { warnings } from '../../../shared/config/load.js';
import { createLogger } from '../../../shared/observability/logger.js';
import { digestPushDelayFromEnv } from '../../../shared/policy/plan.js';
import { loadCliConfig } from '../cli/config.js';
import { CliError, EXIT_USAGE } from '../cli/output.js';
import { startHost } from './host.js';
import { parseListen } from './listen.js';

export async function serveCommand(opts: { config?: string; listen: string }): Promise<void> {
  let listen;
  try {
    listen = parseListen(opts.listen);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_USAGE);
  }
  const config = await loadCliConfig(opts.config);
  let digestPushDelaySeconds: number | undefined;
  try {
    digestPushDelaySeconds = digestPushDelayFromEnv(process.env);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_USAGE);
  }
  const logger = createLogger({ name: 'ferry' });
  for (const warning of warnings(config)) logger.warn({ warning }, warning);
  const host = await startHost({ config, listen, logger, ...(digestPushDelaySeconds !== undefined ? { digestPushDelaySeconds } : {}) });

  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting without waiting for the drain');
        process.exit(1);
      }
      host.stop(`received ${signal}`).then(resolve, (err: unknown) => {
        logger.error({ err }, 'error while draining');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  // pino writes asynchronously when given a destination; plain stdout is synchronous.
  process.exit(0);
}
