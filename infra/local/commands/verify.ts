// `ferry verify [--config ...] [--policy NAME] [--json]`: proves the destinations match the
// sources for what the policies cover. Exit 0 in sync; 1 with the differences listed (also
// when a registry could not be read: a check that could not look is no pass). Read-only:
// no backend is opened.
import type { Command } from 'commander';
import type { FerryConfig } from '../../../shared/config/schema.js';
import type { Difference, VerifyResult } from '../../../shared/reconcile/verify.js';
import type { WalkCounts, WalkIssue } from '../../../shared/reconcile/types.js';
import { CliError, EXIT_USAGE, printJson, printTable, runAction } from '../cli/output.js';
import { describeIssue, parseConcurrency, shortDigest, statusLine } from './sync.js';

export interface VerifyCommandOptions {
  config?: string;
  policy?: string;
  json: boolean;
  concurrency: string;
}

/** The stable `--json` shape. */
export interface VerifyJson {
  inSync: boolean;
  policies: Array<{ policy: string; inSync: boolean; counts: WalkCounts; differences: Difference[]; errors: WalkIssue[] }>;
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('Check that destinations match their sources (exit 0 in sync, 1 with the differences listed)')
    .option('--config <path>', 'config file (default: $FERRY_CONFIG or ./ferry.yaml)')
    .option('--policy <name>', 'only this policy (default: every policy)')
    .option('--concurrency <n>', 'tags compared at once (registry limits still apply)', '8')
    .option('--json', 'machine-readable output', false)
    .action(runAction((opts: VerifyCommandOptions) => verifyCommand(opts)));
}

async function verifyCommand(opts: VerifyCommandOptions): Promise<void> {
  const concurrency = parseConcurrency(opts.concurrency);
  const [{ loadCliConfig }, { verifyPolicy }, { policiesToSync }, { createRegistryClients }] = await Promise.all([
    import('../cli/config.js'),
    import('../../../shared/reconcile/verify.js'),
    import('../../../shared/reconcile/sync.js'),
    import('../../../shared/registry/clients.js'),
  ]);
  const config = await loadCliConfig(opts.config);
  let policies: FerryConfig['policies'];
  try {
    policies = policiesToSync(config, opts.policy);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_USAGE);
  }
  if (policies.length === 0) throw new CliError('no policies configured: nothing to verify', EXIT_USAGE);

  const status = statusLine(!opts.json);
  const clients = createRegistryClients(config);
  const results: VerifyResult[] = [];
  try {
    for (const policy of policies) {
      results.push(await verifyPolicy({
        config,
        clients,
        policy,
        concurrency,
        onProgress: (c) => status.update(`${policy.name}: ${c.repositories} repositories, ${c.tags} tags checked, ${c.missing + c.different + c.extra} differences`),
      }));
    }
  } finally {
    status.done();
    await Promise.allSettled([...clients.values()].map((c) => c.close()));
  }

  const output: VerifyJson = {
    inSync: results.every((r) => r.inSync),
    policies: results.map((r) => ({ policy: r.policy, inSync: r.inSync, counts: r.counts, differences: r.differences, errors: r.errors })),
  };
  if (opts.json) printJson(output);
  else await printHuman(output);
  for (const r of results) for (const issue of r.errors) process.stderr.write(`ferry: ${describeIssue(r.policy, issue)}\n`);
  if (!output.inSync) process.exitCode = 1;
}

async function printHuman(output: VerifyJson): Promise<void> {
  const out = process.stdout;
  for (const p of output.policies) {
    const c = p.counts;
    const kept = c.kept > 0 ? `, ${c.kept} differ but are kept (override: false)` : '';
    if (p.inSync) out.write(`policy ${p.policy}: in sync (${c.repositories} repositories, ${c.tags} tags${kept})\n`);
    else {
      const errors = p.errors.length > 0 ? `, ${p.errors.length} registry errors` : '';
      out.write(`policy ${p.policy}: ${p.differences.length} differences (${c.missing} missing, ${c.different} different, ${c.extra} extra${errors}; ${c.inSync} in sync${kept})\n`);
    }
  }
  const rows = output.policies.flatMap((p) => p.differences.map((d) => ({ policy: p.policy, ...d })));
  if (rows.length > 0) {
    await printTable(rows, [
      { header: 'POLICY', value: (d) => d.policy },
      { header: 'KIND', value: (d) => d.kind },
      { header: 'DESTINATION', value: (d) => `${d.destination.registry}/${d.destination.repository}:${d.tag}` },
      { header: 'SOURCE', value: (d) => d.repository },
      { header: 'SOURCE DIGEST', value: (d) => shortDigest(d.sourceDigest) },
      { header: 'DEST DIGEST', value: (d) => shortDigest(d.destinationDigest) },
    ]);
    // A tag that is there without all of its signatures/SBOMs: say which are missing.
    for (const d of rows) {
      for (const r of d.missingReferrers ?? []) out.write(`${d.destination.registry}/${d.destination.repository}:${d.tag} lacks ${r}\n`);
    }
  }
}
