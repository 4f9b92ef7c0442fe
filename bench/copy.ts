// Benchmark: `ferry copy` against `skopeo copy` on the same real Distribution registries,
// over HTTPS (certificates from a private CA, both tools verifying them: ferry and skopeo
// both given the CA with --src-cert-dir/--dest-cert-dir) and over plain HTTP, interleaved in
// one run. Scenarios: cold (destination empty), warm (everything already there) and
// new-repository (blobs exist in another repository of the destination: ferry mounts, skopeo
// re-checks or re-uploads). Then one 1 GiB single-layer copy (HTTPS) to show ferry's memory
// stays bounded.
//
//   npm run bench                 (BENCH_ROUNDS=7, BENCH_LAYER_MIB=20, BENCH_BIG_MIB=1024)
// Seven rounds: on a shared 2-core machine single runs of either tool vary by +-10%.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createPrivateCa, type PrivateCa } from '../test/testbed/pki.js';
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
type Transport = 'https' | 'http';
const SCENARIOS: Scenario[] = ['cold', 'warm', 'new-repository'];
const TRANSPORTS: Transport[] = ['https', 'http'];
let ca: PrivateCa;

/** The same trust for both tools: HTTPS verified against the private CA, or plain HTTP. */
function tlsArgs(tool: Tool, transport: Transport): string[] {
  if (transport === 'https') return ['--src-cert-dir', ca.certDir, '--dest-cert-dir', ca.certDir];
  return tool === 'ferry' ? ['--insecure'] : ['--src-tls-verify=false', '--dest-tls-verify=false'];
}

function copyWith(tool: Tool, transport: Transport, src: string, dst: string): Promise<Measurement> {
  // bin/ferry, the installed command, as users run it.
  if (tool === 'ferry') return measure('bin/ferry', ['copy', ...tlsArgs(tool, transport), '--json', src, dst]);
  return measure('skopeo', ['copy', '--all', '--preserve-digests', ...tlsArgs(tool, transport), `docker://${src}`, `docker://${dst}`]);
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

  ca = await createPrivateCa('bench');
  const names = ['src', 'dst-ferry', 'dst-skopeo'];
  const started = await startRegistries(6, (i) => ({
    name: `${TRANSPORTS[Math.floor(i / 3)]}-${names[i % 3]}`, logLevel: 'error', ...(i < 3 ? { tls: ca.server } : {}),
  }));
  const registries: Record<Transport, { src: DistributionRegistry; ferry: DistributionRegistry; skopeo: DistributionRegistry }> = {
    https: { src: started[0]!, ferry: started[1]!, skopeo: started[2]! },
    http: { src: started[3]!, ferry: started[4]!, skopeo: started[5]! },
  };

  log(`building and pushing a ${LAYERS} x ${LAYER_MIB} MiB image ...`);
  const image = await buildImage({ layerSizes: Array.from({ length: LAYERS }, () => LAYER_MIB * MiB), label: 'bench' });
  for (const transport of TRANSPORTS) await pushImage(image, `${registries[transport].src.host}/bench/app:v1`);
  await image.dispose();

  const empty = (): Record<Scenario, Record<Tool, Measurement[]>> => ({
    cold: { ferry: [], skopeo: [] },
    warm: { ferry: [], skopeo: [] },
    'new-repository': { ferry: [], skopeo: [] },
  });
  const results: Record<Transport, Record<Scenario, Record<Tool, Measurement[]>>> = { https: empty(), http: empty() };

  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate who goes first (and which transport) so load drift on a shared machine
    // favours neither tool.
    const order: Tool[] = round % 2 === 1 ? ['ferry', 'skopeo'] : ['skopeo', 'ferry'];
    const transports: Transport[] = round % 2 === 1 ? TRANSPORTS : [...TRANSPORTS].reverse();
    for (const transport of transports) {
      const source = `${registries[transport].src.host}/bench/app:v1`;
      for (const tool of order) {
        const dst = registries[transport][tool];
        await dst.wipe();
        const target = `${dst.host}/bench/app:v1`;
        const r = results[transport];
        r.cold[tool].push(await copyWith(tool, transport, source, target));
        await expectDigest(target, image.digest);
        r.warm[tool].push(await copyWith(tool, transport, source, target));
        const fresh = `${dst.host}/bench/app-${round}:v1`;
        r['new-repository'][tool].push(await copyWith(tool, transport, source, fresh));
        await expectDigest(fresh, image.digest);
      }
      const r = results[transport];
      log(`round ${round}/${ROUNDS} ${transport}: ` + SCENARIOS.map((sc) => `${sc} ferry ${r[sc].ferry.at(-1)!.seconds.toFixed(2)}s skopeo ${r[sc].skopeo.at(-1)!.seconds.toFixed(2)}s`).join(', '));
    }
  }
  const src = registries.http.src;
  const ferryDst = registries.http.ferry;

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
  lines.push(`ferry copy vs skopeo copy: ${LAYERS} x ${LAYER_MIB} MiB random layers, ${ROUNDS} interleaved rounds, medians; https = private CA, both tools verifying`);
  lines.push(`${pad('transport', 11)}${pad('scenario', 16)}${pad('ferry s', 9)}${pad('skopeo s', 10)}${pad('wall', 7)}${pad('ferry cpu', 11)}${pad('skopeo cpu', 12)}${pad('cpu', 7)}${pad('ferry RSS', 12)}skopeo RSS`);
  for (const transport of TRANSPORTS) {
    for (const scenario of SCENARIOS) {
      const f = results[transport][scenario].ferry;
      const s = results[transport][scenario].skopeo;
      const fm = median(f.map((m) => m.seconds));
      const sm = median(s.map((m) => m.seconds));
      const fc = median(f.map((m) => m.cpuSeconds));
      const sc = median(s.map((m) => m.cpuSeconds));
      lines.push(
        `${pad(transport, 11)}${pad(scenario, 16)}${pad(fm.toFixed(3), 9)}${pad(sm.toFixed(3), 10)}${pad((fm / sm).toFixed(2), 7)}${pad(fc.toFixed(3), 11)}${pad(sc.toFixed(3), 12)}${pad((fc / sc).toFixed(2), 7)}` +
          `${pad(mib(Math.max(...f.map((m) => m.peakRssBytes))), 12)}${mib(Math.max(...s.map((m) => m.peakRssBytes)))}`,
      );
    }
  }
  lines.push(`ferry fixed cost (node start-up, CLI + HTTP client load, 3 requests; copy of an absent tag): median ${median(startup.map((m) => m.seconds)).toFixed(3)} s wall, ${median(startup.map((m) => m.cpuSeconds)).toFixed(3)} s cpu`);
  lines.push(
    `node start-up alone (node -e 0): median ${median(nodeBoot.map((m) => m.seconds)).toFixed(3)} s` +
      (extraCa ? `; ${median(nodeBootWithCa.map((m) => m.seconds)).toFixed(3)} s with this environment's NODE_EXTRA_CA_CERTS=${extraCa}, which bin/ferry defers` : ''),
  );
  const engine = (transport: Transport, scenario: Scenario): string =>
    median(results[transport][scenario].ferry.map((m) => (JSON.parse(m.stdout) as { seconds: number }).seconds)).toFixed(3);
  for (const transport of TRANSPORTS) {
    lines.push(`ferry in-process copy time (--json seconds), ${transport}, medians: cold ${engine(transport, 'cold')} s, warm ${engine(transport, 'warm')} s, new-repository ${engine(transport, 'new-repository')} s`);
  }
  const coldJson = JSON.parse(results.https.cold.ferry[0]!.stdout) as { blobs: unknown; bytes: number };
  const warmJson = JSON.parse(results.https.warm.ferry[0]!.stdout) as { blobs: unknown; bytes: number };
  const mountJson = JSON.parse(results.https['new-repository'].ferry[0]!.stdout) as { blobs: unknown; bytes: number };
  lines.push(`ferry --json blobs: cold ${JSON.stringify(coldJson.blobs)}, warm ${JSON.stringify(warmJson.blobs)}, new-repository ${JSON.stringify(mountJson.blobs)}`);

  if (BIG_MIB > 0) {
    log(`building and pushing a 1 x ${BIG_MIB} MiB image ...`);
    const { src: bigSrc, ferry: bigFerry, skopeo: bigSkopeo } = registries.https;
    const big = await buildImage({ layerSizes: [BIG_MIB * MiB], label: 'bench-big' });
    const bigSource = `${bigSrc.host}/bench/big:v1`;
    await pushImage(big, bigSource);
    await big.dispose();
    await bigFerry.wipe();
    await bigSkopeo.wipe();
    const f = await copyWith('ferry', 'https', bigSource, `${bigFerry.host}/bench/big:v1`);
    await expectDigest(`${bigFerry.host}/bench/big:v1`, big.digest);
    const s = await copyWith('skopeo', 'https', bigSource, `${bigSkopeo.host}/bench/big:v1`);
    lines.push(
      `1 x ${BIG_MIB} MiB layer, cold, https: ferry ${f.seconds.toFixed(2)} s (cpu ${f.cpuSeconds.toFixed(2)} s), peak RSS ${mib(f.peakRssBytes)}; skopeo ${s.seconds.toFixed(2)} s (cpu ${s.cpuSeconds.toFixed(2)} s), peak RSS ${mib(s.peakRssBytes)}`,
    );
  }
  await ca.dispose();
  process.stdout.write(lines.join('\n') + '\n');
}

await runBench(main);
