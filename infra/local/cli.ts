// `ferry`, the command line. Each subcommand lives in commands/<name>.ts and exports
// `register(program)`. Keep register() cheap: declare options there and `await import()`
// the implementation inside the action, so `ferry --help` never loads the AWS SDK or SQLite.

import { Command, CommanderError } from 'commander';
import { EXIT_OK, EXIT_USAGE, EXIT_FAILURE, reportError } from './cli/output.js';
import { register as registerCopy } from './commands/copy.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerJobs } from './commands/jobs.js';
import { register as registerJob } from './commands/job.js';
import { register as registerDlq } from './commands/dlq.js';
import { register as registerSync } from './commands/sync.js';
import { register as registerVerify } from './commands/verify.js';
import { register as registerPolicy } from './commands/policy.js';
import { register as registerConsole } from './commands/console.js';

/** Every subcommand, in help order. Add yours here (one line each). */
const commands: ReadonlyArray<(program: Command) => void> = [
  registerCopy,
  // serve, sync, verify, jobs, job, dlq: registered by their owners below this line.
  registerServe,
  registerSync,
  registerVerify,
  registerJobs,
  registerJob,
  registerDlq,
  registerPolicy,
  registerConsole,
];

declare const FERRY_VERSION: string | undefined;

function version(): string {
  // The bundler defines FERRY_VERSION; under tsx it is absent.
  return typeof FERRY_VERSION === 'string' ? FERRY_VERSION : '0.0.0-dev';
}

export function buildProgram(): Command {
  const program = new Command('ferry');
  program
    .description('Replicate container images between OCI registries, driven by registry webhooks.')
    .version(version(), '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      // Usage errors follow the same one-line "ferry: ..." shape as every other error.
      outputError: (message, write) => write(`ferry: ${message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()}\n`),
    })
    .exitOverride();
  for (const register of commands) register(program);
  // Subcommands inherit exit and output behaviour so their usage errors also exit 2.
  for (const sub of program.commands) applyInherited(sub, program);
  return program;
}

function applyInherited(command: Command, program: Command): void {
  command.exitOverride();
  command.configureOutput(program.configureOutput());
  for (const sub of command.commands) applyInherited(sub, program);
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const extraCaCerts = process.env.FERRY_EXTRA_CA_CERTS;
  if (extraCaCerts) {
    // bin/ferry moved NODE_EXTRA_CA_CERTS aside; processes ferry starts still get it.
    process.env.NODE_EXTRA_CA_CERTS = extraCaCerts;
    delete process.env.FERRY_EXTRA_CA_CERTS;
    (await import('./cli/extra-ca.js')).trustExtraCaCertsLazily(extraCaCerts);
  }
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; help shown because a command is missing is a usage error.
      const ok = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0;
      process.exit(ok ? EXIT_OK : EXIT_USAGE);
    }
    reportError(error);
    process.exit(EXIT_FAILURE);
  }
}

main().catch((error: unknown) => {
  reportError(error);
  process.exit(EXIT_FAILURE);
});
