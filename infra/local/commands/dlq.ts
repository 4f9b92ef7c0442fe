// `ferry dlq list [--json]`, `ferry dlq replay (--all | ID...)`
import type { Command } from 'commander';
import { runAction } from '../cli/output.js';

export function register(program: Command): void {
  const dlq = program.command('dlq').description('Dead-letter queue: jobs whose attempts are exhausted');
  dlq
    .command('list')
    .description('List dead-lettered jobs with their last error')
    .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
    .option('--json', 'machine-readable output')
    .action(
      runAction(async (opts: { config?: string; json?: boolean }) => {
        const { dlqListCommand } = await import('../serve/admin-commands.js');
        await dlqListCommand(opts);
      }),
    );
  dlq
    .command('replay')
    .description('Move dead jobs back to the queue (attempts reset, replay recorded)')
    .argument('[ids...]', 'job ids to replay')
    .option('--all', 'replay every dead job')
    .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
    .option('--json', 'machine-readable output')
    .action(
      runAction(async (ids: string[], opts: { config?: string; all?: boolean; json?: boolean }) => {
        const { dlqReplayCommand } = await import('../serve/admin-commands.js');
        await dlqReplayCommand(ids, opts);
      }),
    );
}
