// `ferry serve [--config ferry.yaml] [--listen 127.0.0.1:8080]` (docs/contract.md, docs/operations.md).
import type { Command } from 'commander';
import { runAction } from '../cli/output.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('Run ferry: webhook receiver, worker pool, scheduler, admin API, /healthz and /metrics')
    .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8080')
    .action(
      runAction(async (opts: { config?: string; listen: string }) => {
        const { serveCommand } = await import('../serve/serve-command.js');
        await serveCommand(opts);
      }),
    );
}
