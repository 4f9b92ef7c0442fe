// `ferry console [--config ferry.yaml] [--listen 127.0.0.1:8081]`: the admin console and
// API alone, for any backend (with `backend: aws` it reads SQS and DynamoDB with the
// caller's AWS credentials). No workers, no webhooks.
import type { Command } from 'commander';
import { runAction } from '../cli/output.js';

export function register(program: Command): void {
  program
    .command('console')
    .description('Serve the admin console and API for the configured backend (no workers, no webhooks)')
    .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8081')
    .action(
      runAction(async (opts: { config?: string; listen: string }) => {
        const { consoleCommand } = await import('../serve/console-command.js');
        await consoleCommand(opts);
      }),
    );
}
