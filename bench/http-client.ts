// What ferry's transport (undici underneath) costs against undici used bare and node:http: the
// CPU each client spends receiving the same blobs
// from a real Distribution registry (5 x 20 MiB, all at once, every byte hashed as a copy
// does), each run in a fresh process, clients interleaved, medians of several rounds. On a
// 2-core machine that CPU is taken from the registries a copy waits for.
//   npx tsx bench/http-client.ts            (BENCH_ROUNDS=5, BENCH_LAYER_MIB=20, BENCH_LAYERS=5)

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startRegistry } from '../test/testbed/registries.js';
import { buildImage, pushImage } from '../test/testbed/images.js';
import { median } from './lib/measure.js';
import { runBench } from './lib/run.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LAYER_MIB = Number(process.env.BENCH_LAYER_MIB ?? 20);
const LAYERS = Number(process.env.BENCH_LAYERS ?? 5);
const CLIENTS = ['ferry', 'undici', 'node-http'] as const;
const run = promisify(execFile);

interface Sample {
  client: string;
  bytes: number;
  seconds: number;
  cpuSeconds: number;
}

async function main(): Promise<void> {
  const registry = await startRegistry({ name: 'bench-http', logLevel: 'error' });
  const image = await buildImage({ layerSizes: Array.from({ length: LAYERS }, () => LAYER_MIB * 1024 * 1024), label: 'bench-http' });
  await pushImage(image, `${registry.host}/bench/http:v1`);
  const urls = image.layers.map((l) => `${registry.url}/v2/bench/http/blobs/${l.digest}`);
  await image.dispose();

  const samples: Record<string, Sample[]> = Object.fromEntries(CLIENTS.map((c) => [c, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const client of round % 2 ? CLIENTS : [...CLIENTS].reverse()) {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/lib/stream-blobs.ts', client, ...urls]);
      samples[client]!.push(JSON.parse(stdout) as Sample);
    }
    process.stderr.write(`round ${round}/${ROUNDS}\n`);
  }
  const mib = (LAYERS * LAYER_MIB).toFixed(0);
  const lines = [`receiving ${LAYERS} x ${LAYER_MIB} MiB blobs at once from Distribution, hashed; ${ROUNDS} rounds, medians`, 'client      cpu s   per 100 MiB   wall s'];
  for (const client of CLIENTS) {
    const cpu = median(samples[client]!.map((s) => s.cpuSeconds));
    const wall = median(samples[client]!.map((s) => s.seconds));
    lines.push(`${client.padEnd(12)}${cpu.toFixed(3).padEnd(8)}${((cpu * 100) / Number(mib)).toFixed(3).padEnd(14)}${wall.toFixed(3)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await runBench(main);
