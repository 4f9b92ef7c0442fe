// `ferry jobs [--status S] [--policy P] [--repository R] [--limit N] [--json]`
import type { Command } from 'commander';
import { runAction } from '../cli/output.js';

export function register(program: Command): void {
  const jobs = program
    .command('jobs')
    .description('List replication jobs (newest first), from the configured backend')
    .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
    .option('--status <status>', 'queued | running | succeeded | skipped | failed | dead | paused | cancelled')
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
  for (const action of ['cancel', 'retry'] as const) {
    jobs
      .command(action)
      .description(action === 'cancel'
        ? 'Cancel jobs: queued ones never run; running ones stop at the next blob boundary (upload sessions kept)'
        : 'Queue failed, dead or cancelled jobs again (attempts reset; the old error stays in the history)')
      .argument('<ids...>', 'job ids')
      .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
      .option('--json', 'machine-readable output')
      .action(
        runAction(async (ids: string[], _opts: unknown, command: Command) => {
          // `jobs` itself has --config and --json: commander may hand them to it, so merge.
          const opts = command.optsWithGlobals<{ config?: string; json?: boolean }>();
          const { jobActionCommand } = await import('../serve/admin-commands.js');
          await jobActionCommand(action, ids, opts);
        }),
      );
  }
}
