// `ferry job ID [--json]`
import type { Command } from 'commander';
import { runAction } from '../cli/output.js';

export function register(program: Command): void {
  program
    .command('job')
    .description('Show one job: source, destination, status, error, stats and replays')
    .argument('<id>', 'job id')
    .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
    .option('--json', 'machine-readable output')
    .action(
      runAction(async (id: string, opts: { config?: string; json?: boolean }) => {
        const { jobCommand } = await import('../serve/admin-commands.js');
        await jobCommand(id, opts);
      }),
    );
}
