// Push -> replica latency of `ferry serve` on real registries: for each of N pushes of a
// small fresh image, the time from skopeo's push completing to the destination answering
// HEAD for that digest (polled every 20 ms). Prints median, p95, min and max.
//   npx tsx bench/latency.ts [--pushes 50]
import { setTimeout as sleep } from 'node:timers/promises';
import { buildImage, pushImage } from '../test/testbed/images.js';
import { startScenario } from '../test/e2e/scenario.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const PUSHES = arg('pushes', 50);
const POLL_MS = 20;

async function headDigest(url: string): Promise<string | undefined> {
  const res = await fetch(url, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
  });
  const d = res.headers.get('docker-content-digest');
  return res.status === 200 && d ? d : undefined;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function main(): Promise<void> {
  const scenario = await startScenario({
    policies: [{ name: 'bench', source: 'src', repositories: ['bench/**'], destinations: [{ registry: 'dst' }] }],
    worker: { concurrency: 3 },
  });
  const latencies: number[] = [];
  try {
    // One warm-up push so connection pools and the SQLite file are warm, as in steady state.
    for (let i = -1; i < PUSHES; i++) {
      const image = await buildImage({ layerSizes: [2048], label: `latency-${i}` });
      const tag = `t${i + 1}`;
      await pushImage(image, `${scenario.src.host}/bench/app:${tag}`);
      const pushed = performance.now();
      const url = `${scenario.dst.url}/v2/bench/app/manifests/${tag}`;
      const deadline = pushed + 30_000;
      for (;;) {
        if ((await headDigest(url)) === image.digest) break;
        if (performance.now() > deadline) throw new Error(`push ${tag} did not arrive within 30 s`);
        await sleep(POLL_MS);
      }
      const ms = performance.now() - pushed;
      if (i >= 0) latencies.push(ms);
      await image.dispose();
    }
  } finally {
    await scenario.stop();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const fmt = (n: number) => `${n.toFixed(0)} ms`;
  console.log(`push -> replica latency over ${sorted.length} pushes (poll ${POLL_MS} ms):`);
  console.log(`  median ${fmt(percentile(sorted, 50))}  p95 ${fmt(percentile(sorted, 95))}  min ${fmt(sorted[0]!)}  max ${fmt(sorted[sorted.length - 1]!)}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench/latency: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
