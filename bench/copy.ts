// Benchmark: `ferry copy` against `skopeo copy` on the same real Distribution registries.
// Scenarios: cold (destination empty), warm (everything already there) and new-repository
// (blobs exist in another repository of the destination: ferry mounts, skopeo re-checks
// or re-uploads). Then one 1 GiB single-layer copy to show ferry's memory stays bounded.
//
//   npm run bench                 (BENCH_ROUNDS=7, BENCH_LAYER_MIB=20, BENCH_BIG_MIB=1024)
// Seven rounds: on a shared 2-core machine single runs of either tool vary by +-10%.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startRegistries, type DistributionRegistry } from '../test/testbed/registries.js';
import { buildImage, digestOf, inspectRaw, pushImage } from '../test/testbed/images.js';
import { measure, median, mib, type Measurement } from './lib/measure.js';
import { runBench } from './lib/run.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const LAYER_MIB = Number(process.env.BENCH_LAYER_MIB ?? 20);
const LAYERS = Number(process.env.BENCH_LAYERS ?? 5);
const BIG_MIB = Number(process.env.BENCH_BIG_MIB ?? 1024);
const MiB = 1024 * 1024;

type Tool = 'ferry' | 'skopeo';
type Scenario = 'cold' | 'warm' | 'new-repository';
const SCENARIOS: Scenario[] = ['cold', 'warm', 'new-repository'];

function copyWith(tool: Tool, src: string, dst: string): Promise<Measurement> {
  // bin/ferry, the installed command, as users run it.
  if (tool === 'ferry') return measure('bin/ferry', ['copy', '--insecure', '--json', src, dst]);
  return measure('skopeo', ['copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${src}`, `docker://${dst}`]);
}

async function expectDigest(ref: string, digest: string): Promise<void> {
  const actual = digestOf(await inspectRaw(ref));
  if (actual !== digest) throw new Error(`${ref} has ${actual}, expected ${digest}`);
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function pad(value: string, width: number): string {
  return value.padEnd(width);
}

async function main(): Promise<void> {
  log('building dist/cli.js ...');
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  if (!existsSync('dist/cli.js')) throw new Error('dist/cli.js missing after build');

  const [src, ferryDst, skopeoDst] = (await startRegistries(3, (i) => ({ name: ['src', 'dst-ferry', 'dst-skopeo'][i]!, logLevel: 'error' }))) as [
    DistributionRegistry,
    DistributionRegistry,
    DistributionRegistry,
  ];
  const destinations: Record<Tool, DistributionRegistry> = { ferry: ferryDst, skopeo: skopeoDst };

  log(`building and pushing a ${LAYERS} x ${LAYER_MIB} MiB image ...`);
  const image = await buildImage({ layerSizes: Array.from({ length: LAYERS }, () => LAYER_MIB * MiB), label: 'bench' });
  const source = `${src.host}/bench/app:v1`;
  await pushImage(image, source);
  await image.dispose();

  const results: Record<Scenario, Record<Tool, Measurement[]>> = {
    cold: { ferry: [], skopeo: [] },
    warm: { ferry: [], skopeo: [] },
    'new-repository': { ferry: [], skopeo: [] },
  };

  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate who goes first so load drift on a shared machine does not favour one tool.
    const order: Tool[] = round % 2 === 1 ? ['ferry', 'skopeo'] : ['skopeo', 'ferry'];
    for (const tool of order) {
      const dst = destinations[tool];
      await dst.wipe();
      const target = `${dst.host}/bench/app:v1`;
      results.cold[tool].push(await copyWith(tool, source, target));
      await expectDigest(target, image.digest);
      results.warm[tool].push(await copyWith(tool, source, target));
      const fresh = `${dst.host}/bench/app-${round}:v1`;
      results['new-repository'][tool].push(await copyWith(tool, source, fresh));
      await expectDigest(fresh, image.digest);
    }
    log(`round ${round}/${ROUNDS}: ` + SCENARIOS.map((s) => `${s} ferry ${results[s].ferry.at(-1)!.seconds.toFixed(2)}s skopeo ${results[s].skopeo.at(-1)!.seconds.toFixed(2)}s`).join(', '));
  }

  // The fixed cost of starting Node and loading the CLI and its HTTP client, paid by every
  // `ferry copy` and never by skopeo (a Go binary): a copy of a tag the source does not have
  // (ping both registries, one manifest GET, exit 1).
  const startup: Measurement[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const m = await measure('bin/ferry', ['copy', '--insecure', `${src.host}/bench/absent:v1`, `${ferryDst.host}/bench/absent:v1`], { allowFailure: true });
    startup.push(m);
  }

  // What Node itself costs before any ferry code runs; NODE_EXTRA_CA_CERTS, when set, makes
  // node build its certificate store at start-up (bin/ferry defers that to the first TLS use).
  const { NODE_EXTRA_CA_CERTS: extraCa, ...withoutExtraCa } = process.env;
  const nodeBoot: Measurement[] = [];
  const nodeBootWithCa: Measurement[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    nodeBoot.push(await measure(process.execPath, ['-e', '0'], { env: withoutExtraCa }));
    if (extraCa) nodeBootWithCa.push(await measure(process.execPath, ['-e', '0']));
  }

  const lines: string[] = [];
  lines.push(`ferry copy vs skopeo copy: ${LAYERS} x ${LAYER_MIB} MiB random layers, ${ROUNDS} rounds each, medians`);
  lines.push(`${pad('scenario', 16)}${pad('ferry s', 10)}${pad('skopeo s', 10)}${pad('ratio', 8)}${pad('ferry peak RSS', 16)}skopeo peak RSS`);
  for (const scenario of SCENARIOS) {
    const f = results[scenario].ferry;
    const s = results[scenario].skopeo;
    const fm = median(f.map((m) => m.seconds));
    const sm = median(s.map((m) => m.seconds));
    lines.push(
      `${pad(scenario, 16)}${pad(fm.toFixed(3), 10)}${pad(sm.toFixed(3), 10)}${pad((fm / sm).toFixed(2), 8)}${pad(mib(Math.max(...f.map((m) => m.peakRssBytes))), 16)}${mib(Math.max(...s.map((m) => m.peakRssBytes)))}`,
    );
  }
  lines.push(
    `CPU seconds (user+sys), medians: ` +
      SCENARIOS.map((sc) => `${sc} ferry ${median(results[sc].ferry.map((m) => m.cpuSeconds)).toFixed(2)} / skopeo ${median(results[sc].skopeo.map((m) => m.cpuSeconds)).toFixed(2)}`).join(', '),
  );
  lines.push(`ferry fixed cost (node start-up, CLI + HTTP client load, 3 requests; copy of an absent tag): median ${median(startup.map((m) => m.seconds)).toFixed(3)} s wall, ${median(startup.map((m) => m.cpuSeconds)).toFixed(3)} s cpu`);
  lines.push(
    `node start-up alone (node -e 0): median ${median(nodeBoot.map((m) => m.seconds)).toFixed(3)} s` +
      (extraCa ? `; ${median(nodeBootWithCa.map((m) => m.seconds)).toFixed(3)} s with this environment's NODE_EXTRA_CA_CERTS=${extraCa}, which bin/ferry defers` : ''),
  );
  const engine = (scenario: Scenario): string =>
    median(results[scenario].ferry.map((m) => (JSON.parse(m.stdout) as { seconds: number }).seconds)).toFixed(3);
  lines.push(`ferry in-process copy time (--json seconds), medians: cold ${engine('cold')} s, warm ${engine('warm')} s, new-repository ${engine('new-repository')} s`);
  const coldJson = JSON.parse(results.cold.ferry[0]!.stdout) as { blobs: unknown; bytes: number };
  const warmJson = JSON.parse(results.warm.ferry[0]!.stdout) as { blobs: unknown; bytes: number };
  const mountJson = JSON.parse(results['new-repository'].ferry[0]!.stdout) as { blobs: unknown; bytes: number };
  lines.push(`ferry --json blobs: cold ${JSON.stringify(coldJson.blobs)}, warm ${JSON.stringify(warmJson.blobs)}, new-repository ${JSON.stringify(mountJson.blobs)}`);

  if (BIG_MIB > 0) {
    log(`building and pushing a 1 x ${BIG_MIB} MiB image ...`);
    const big = await buildImage({ layerSizes: [BIG_MIB * MiB], label: 'bench-big' });
    const bigSource = `${src.host}/bench/big:v1`;
    await pushImage(big, bigSource);
    await big.dispose();
    await ferryDst.wipe();
    await skopeoDst.wipe();
    const f = await copyWith('ferry', bigSource, `${ferryDst.host}/bench/big:v1`);
    await expectDigest(`${ferryDst.host}/bench/big:v1`, big.digest);
    const s = await copyWith('skopeo', bigSource, `${skopeoDst.host}/bench/big:v1`);
    lines.push(
      `1 x ${BIG_MIB} MiB layer, cold: ferry ${f.seconds.toFixed(2)} s (cpu ${f.cpuSeconds.toFixed(2)} s), peak RSS ${mib(f.peakRssBytes)}; skopeo ${s.seconds.toFixed(2)} s (cpu ${s.cpuSeconds.toFixed(2)} s), peak RSS ${mib(s.peakRssBytes)}`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await runBench(main);
