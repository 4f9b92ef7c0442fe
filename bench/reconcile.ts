// Benchmark: reconcile a policy over many tags (default 1,000) between real Distribution
// registries, with the built `ferry` CLI, measuring wall time, CPU and peak RSS (VmHWM, via
// GNU time) of each run:
//   plan   `ferry sync --dry-run` (walk only: list + HEAD at both ends)
//   cold   `ferry sync --wait`    (destination empty: enqueue and run every job in-process)
//   warm   `ferry sync --wait`    (everything in sync: walk, nothing to enqueue)
//   verify `ferry verify`
// and, as a reference point, `skopeo sync` of the same repository into a third registry.
// One small image is pushed once and then PUT under every tag (the registry keeps the blobs
// once), so setup is cheap and the numbers are about per-tag overhead.
//
//   npx tsx bench/reconcile.ts      (BENCH_TAGS=1000, BENCH_WORKERS=4, BENCH_CONCURRENCY=16, BENCH_SKOPEO=1)

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { builtCli } from '../test/e2e/ferry-process.js';
import { pushRandomImage } from '../test/testbed/images.js';
import { startRegistries, stopAllRegistries, type DistributionRegistry } from '../test/testbed/registries.js';
import { clientFor, tagMany } from '../test/reconcile/helpers.js';
import { measure, type Measurement } from './lib/measure.js';

const TAGS = Number(process.env.BENCH_TAGS ?? 1000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const WITH_SKOPEO = (process.env.BENCH_SKOPEO ?? '1') !== '0';
const MiB = 1024 * 1024;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface Row {
  run: string;
  m: Measurement;
  note: string;
}

async function main(): Promise<void> {
  log('building the ferry CLI ...');
  const cli = await builtCli();
  const [src, dst, skopeoDst] = (await startRegistries(3, (i) => ({ name: ['bsrc', 'bdst', 'bdst-skopeo'][i]!, logLevel: 'error' }))) as [
    DistributionRegistry, DistributionRegistry, DistributionRegistry,
  ];
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-reconcile-'));
  const source = clientFor('src', src.url);
  try {
    log(`pushing one image and tagging it ${TAGS} times ...`);
    await pushRandomImage(`${src.host}/bench/app:t0000`, { layerSizes: [16 * 1024, 4 * 1024] });
    const tagSetup = Date.now();
    await tagMany(source, 'bench/app', 't0000', Array.from({ length: TAGS - 1 }, (_, i) => `t${String(i + 1).padStart(4, '0')}`));
    log(`  tagged in ${((Date.now() - tagSetup) / 1000).toFixed(1)} s`);

    const configPath = join(dir, 'ferry.yaml');
    // Registry limits are part of the config a user writes; the default 50 requests/s
    // would make this a benchmark of the limiter (2 HEADs per tag), so they are raised.
    const limits = { requestsPerSecond: 2000, concurrency: 32 };
    await writeFile(configPath, stringify({
      dataDir: join(dir, 'data'),
      registries: {
        src: { url: src.url, insecure: true, limits, webhook: { allowUnauthenticated: true } },
        dst: { url: dst.url, insecure: true, limits },
      },
      policies: [{ name: 'bench', source: 'src', repositories: ['bench/app'], destinations: [{ registry: 'dst' }] }],
      worker: { concurrency: WORKERS },
    }));
    const ferry = (args: string[], allowFailure = false) =>
      measure(process.execPath, [cli, ...args, '--config', configPath, '--concurrency', String(CONCURRENCY), '--json'], { allowFailure, env: { ...process.env, FERRY_LOG_LEVEL: 'error' } });

    const rows: Row[] = [];
    log('plan (dry run) ...');
    const plan = await ferry(['sync', '--dry-run']);
    const planned = (JSON.parse(plan.stdout) as { policies: Array<{ copy: number }> }).policies[0]!.copy;
    if (planned !== TAGS) throw new Error(`dry run planned ${planned} copies, expected ${TAGS}`);
    rows.push({ run: 'sync --dry-run', m: plan, note: `${planned} copies planned` });

    log('cold sync --wait ...');
    const cold = await ferry(['sync', '--wait']);
    const coldJobs = (JSON.parse(cold.stdout) as { jobs: { total: number; succeeded: number; skipped: number; dead: number } }).jobs;
    if (coldJobs.dead > 0 || coldJobs.succeeded + coldJobs.skipped !== TAGS) throw new Error(`cold sync: ${JSON.stringify(coldJobs)}`);
    rows.push({ run: 'sync --wait (cold)', m: cold, note: `${coldJobs.succeeded} copied, ${coldJobs.skipped} skipped` });

    log('warm sync --wait ...');
    const warm = await ferry(['sync', '--wait']);
    const warmPolicy = (JSON.parse(warm.stdout) as { policies: Array<{ inSync: number; copy: number }> }).policies[0]!;
    if (warmPolicy.inSync !== TAGS) throw new Error(`warm sync: ${JSON.stringify(warmPolicy)}`);
    rows.push({ run: 'sync --wait (warm)', m: warm, note: `${warmPolicy.inSync} in sync, 0 jobs` });

    log('verify ...');
    const verify = await ferry(['verify']);
    if (!(JSON.parse(verify.stdout) as { inSync: boolean }).inSync) throw new Error('verify found differences after the sync');
    rows.push({ run: 'verify', m: verify, note: 'in sync' });

    if (WITH_SKOPEO) {
      log('skopeo sync (reference) ...');
      const skopeo = await measure('skopeo', ['sync', '--all', '--preserve-digests', '--src', 'docker', '--dest', 'docker', '--src-tls-verify=false', '--dest-tls-verify=false', `${src.host}/bench/app`, `${skopeoDst.host}/mirror`]);
      rows.push({ run: 'skopeo sync (cold)', m: skopeo, note: 'reference' });
      const skopeoWarm = await measure('skopeo', ['sync', '--all', '--preserve-digests', '--src', 'docker', '--dest', 'docker', '--src-tls-verify=false', '--dest-tls-verify=false', `${src.host}/bench/app`, `${skopeoDst.host}/mirror`]);
      rows.push({ run: 'skopeo sync (warm)', m: skopeoWarm, note: 'reference' });
    }

    process.stdout.write(`\nreconcile of ${TAGS} tags (1 repository), ${WORKERS} workers, ${CONCURRENCY} tags compared at once\n\n`);
    process.stdout.write(`${'run'.padEnd(22)}${'wall s'.padStart(9)}${'cpu s'.padStart(9)}${'peak RSS MiB'.padStart(15)}${'tags/s'.padStart(9)}  note\n`);
    for (const { run, m, note } of rows) {
      process.stdout.write(`${run.padEnd(22)}${m.seconds.toFixed(2).padStart(9)}${m.cpuSeconds.toFixed(2).padStart(9)}${(m.peakRssBytes / MiB).toFixed(1).padStart(15)}${(TAGS / m.seconds).toFixed(0).padStart(9)}  ${note}\n`);
    }
  } finally {
    await source.close();
    await stopAllRegistries();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
