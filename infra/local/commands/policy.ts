// `ferry policy list`, `ferry policy pause NAME`, `ferry policy resume NAME`
import type { Command } from 'commander';
import { runAction } from '../cli/output.js';

export function register(program: Command): void {
  const policy = program.command('policy').description('Replication policies: state, pause and resume');
  policy
    .command('list')
    .description('List policies: paused or active, job counts by status, last sync and verify')
    .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
    .option('--json', 'machine-readable output')
    .action(
      runAction(async (opts: { config?: string; json?: boolean }) => {
        const { policyListCommand } = await import('../serve/admin-commands.js');
        await policyListCommand(opts);
      }),
    );
  for (const action of ['pause', 'resume'] as const) {
    policy
      .command(action)
      .description(action === 'pause'
        ? 'Pause a policy: events still become jobs, held (status paused) until resumed'
        : 'Resume a policy: its held jobs are queued again, oldest first')
      .argument('<name>', 'policy name')
      .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
      .option('--json', 'machine-readable output')
      .action(
        runAction(async (name: string, opts: { config?: string; json?: boolean }) => {
          const { policyStateCommand } = await import('../serve/admin-commands.js');
          await policyStateCommand(action, name, opts);
        }),
      );
  }
}
