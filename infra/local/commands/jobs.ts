// `ferry jobs [--status S] [--policy P] [--repository R] [--limit N] [--json]`
import type { Command } from 'commander';
import { runAction } from '../cli/output.js';

export function register(program: Command): void {
  program
    .command('jobs')
    .description('List replication jobs (newest first), from the configured backend')
    .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
    .option('--status <status>', 'queued | running | succeeded | skipped | failed | dead')
    .option('--policy <name>', 'only jobs of this policy')
    .option('--repository <name>', 'only jobs for this source repository')
    .option('--limit <n>', 'at most this many jobs', '50')
    .option('--json', 'machine-readable output')
    .action(
      runAction(async (opts: { config?: string; status?: string; policy?: string; repository?: string; limit: string; json?: boolean }) => {
        const { jobsCommand } = await import('../serve/admin-commands.js');
        await jobsCommand(opts);
      }),
    );
}
