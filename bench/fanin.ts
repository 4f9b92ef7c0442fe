// Fan-in benchmark: many repositories sharing a base, replicated into an empty registry.
// 20 repositories team/app01..20 (here one/appNN and three/appNN), each image = the same
// 3 x 8 MiB base layers + 1 unique 2 MiB layer. Per round, with a fresh destination
// registry for each tool: `ferry sync --wait` (default ferry.yaml apart from registries and
// the policy) and `skopeo sync`, interleaved (the order alternates). Cases: 1 tag per
// repository, and 3 tags per repository sharing all layers (only the config differs).
// Bytes uploaded come from the destination's access log: every completed blob upload
// (PUT .../blobs/uploads/...?digest=D answered 201) carried D's whole size (no blob here
// is large enough for a chunked upload that could resume).
// Then the same 20 images pushed to a source whose notifications go to `ferry serve`
// (worker.concurrency: 3): bytes uploaded to its destination.
//   npx tsx bench/fanin.ts [--rounds 5] [--repos 20] [--skip-webhook]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { blobTraffic } from '../test/testbed/access-log.js';
import { buildImage, pushImage, type TestImage } from '../test/testbed/images.js';
import { startRegistry, type DistributionRegistry } from '../test/testbed/registries.js';
import { startScenario } from '../test/e2e/scenario.js';
import { measure, median } from './lib/measure.js';
import { runBench } from './lib/run.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('rounds', 5);
const REPOS = arg('repos', 20);
const MIB = 1024 * 1024;
const BASE_LAYERS = [8 * MIB, 8 * MIB, 8 * MIB];
const OWN_LAYER = 2 * MIB;

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const name = (i: number): string => `app${String(i + 1).padStart(2, '0')}`;

interface Layout {
  dir: string;
  /** digest -> size of every blob of every manifest in the layout. */
  blobs: Map<string, number>;
  /** The manifests to push, in order, each under its tag. */
  tags: Array<{ tag: string; digest: string; size: number; bytes: Buffer }>;
}

const blobPath = (dir: string, digest: string): string => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** One repository's layout: the base layers + its own, and `tags` manifests differing only in their config. */
async function composeRepository(base: TestImage, own: TestImage, tags: number): Promise<Layout> {
  const blobs = new Map<string, number>();
  for (const layer of base.layers) {
    await copyFile(blobPath(base.dir, layer.digest), blobPath(own.dir, layer.digest));
  }
  const layers = [...base.layers, ...own.layers];
  for (const l of layers) blobs.set(l.digest, l.size);
  const config = JSON.parse((await readFile(blobPath(own.dir, own.configs[0]!.digest))).toString()) as { config: { Labels: Record<string, string> }; rootfs: { diff_ids: string[] } };
  const baseConfig = JSON.parse((await readFile(blobPath(base.dir, base.configs[0]!.digest))).toString()) as { rootfs: { diff_ids: string[] } };
  config.rootfs.diff_ids = [...baseConfig.rootfs.diff_ids, ...config.rootfs.diff_ids];
  const out: Layout['tags'] = [];
  for (let t = 0; t < tags; t++) {
    config.config.Labels['ferry.bench.tag'] = `v${t + 1}`;
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDigest = sha256(configBytes);
    await writeFile(blobPath(own.dir, configDigest), configBytes);
    blobs.set(configDigest, configBytes.length);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: own.mediaType,
      config: { mediaType: own.configs[0]!.mediaType, digest: configDigest, size: configBytes.length }, layers,
    }));
    const digest = sha256(manifest);
    await writeFile(blobPath(own.dir, digest), manifest);
    out.push({ tag: `v${t + 1}`, digest, size: manifest.length, bytes: manifest });
  }
  return { dir: own.dir, blobs, tags: out };
}

/** Pushes each tag of the layout (index.json names one manifest at a time). */
async function pushLayout(layout: Layout, repository: string): Promise<void> {
  for (const t of layout.tags) {
    await writeFile(join(layout.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: t.digest, size: t.size }] }));
    await pushImage({ dir: layout.dir }, `${repository}:${t.tag}`);
  }
}

interface Uploads {
  /** Completed uploads per digest. */
  perDigest: Map<string, number>;
  bytes: number;
  mounts: number;
  requests: number;
}

/** Blob uploads the destination completed, from its access log, with the bytes they carried. */
async function uploadsFromLog(logFile: string, sizes: ReadonlyMap<string, number>): Promise<Uploads> {
  const traffic = await blobTraffic(logFile);
  let bytes = 0;
  for (const [d, n] of traffic.uploads) {
    const size = sizes.get(d);
    if (size === undefined) throw new Error(`the destination completed an upload of ${d}, which no bench image has`);
    bytes += size * n;
  }
  return { perDigest: traffic.uploads, bytes, mounts: traffic.mounts, requests: traffic.requests };
}

interface RunResult { seconds: number; cpuSeconds: number; uploads: Uploads }

async function runFerry(src: DistributionRegistry, prefix: string, work: string, sizes: Map<string, number>): Promise<RunResult> {
  const dst = await startRegistry({ name: `dst-ferry-${prefix}` });
  try {
    const dir = await mkdtemp(join(work, 'ferry-'));
    const configPath = join(dir, 'ferry.yaml');
    await writeFile(configPath, stringify({
      dataDir: join(dir, 'data'),
      registries: { src: { url: src.url, insecure: true }, dst: { url: dst.url, insecure: true } },
      policies: [{ name: 'fanin', source: 'src', repositories: [`${prefix}/**`], destinations: [{ registry: 'dst' }] }],
    }));
    const m = await measure('bin/ferry', ['sync', '--wait', '--json', '--config', configPath], { timeoutMs: 300_000 });
    if (process.env.FANIN_LOGS) await writeFile(join(process.env.FANIN_LOGS, `${prefix}-${Date.now()}-${m.seconds.toFixed(2)}.log`), m.stderr);
    return { seconds: m.seconds, cpuSeconds: m.cpuSeconds, uploads: await uploadsFromLog(dst.logFile, sizes) };
  } finally {
    await dst.stop();
  }
}

async function runSkopeo(src: DistributionRegistry, prefix: string, work: string, sizes: Map<string, number>): Promise<RunResult> {
  const dst = await startRegistry({ name: `dst-skopeo-${prefix}` });
  try {
    const dir = await mkdtemp(join(work, 'skopeo-'));
    const file = join(dir, 'sync.yaml');
    const images: Record<string, string[]> = {};
    for (let i = 0; i < REPOS; i++) images[`${prefix}/${name(i)}`] = [];
    await writeFile(file, stringify({ [src.host]: { 'tls-verify': false, images } }));
    const m = await measure('skopeo', ['sync', '--src', 'yaml', '--dest', 'docker', '--dest-tls-verify=false', file, dst.host], { timeoutMs: 300_000 });
    return { seconds: m.seconds, cpuSeconds: m.cpuSeconds, uploads: await uploadsFromLog(dst.logFile, sizes) };
  } finally {
    await dst.stop();
  }
}

/** "each distinct blob exactly once" holds when every digest was uploaded once and all were. */
function exactlyOnce(u: Uploads, distinct: number): boolean {
  return u.perDigest.size === distinct && [...u.perDigest.values()].every((n) => n === 1);
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

async function webhookRun(base: TestImage, sizes: Map<string, number>): Promise<string> {
  const scenario = await startScenario({
    policies: [{ name: 'hook', source: 'src', repositories: ['team/**'], destinations: [{ registry: 'dst' }] }],
    worker: { concurrency: 3 },
  });
  try {
    const layouts: Layout[] = [];
    for (let i = 0; i < REPOS; i++) layouts.push(await composeRepository(base, await buildImage({ layerSizes: [OWN_LAYER], label: `hook-${i}` }), 1));
    for (const l of layouts) for (const [d, s] of l.blobs) sizes.set(d, s);
    const distinct = new Set(layouts.flatMap((l) => [...l.blobs.keys()]));
    const started = Date.now();
    // Pushes arrive a few at a time, as from a CI fleet.
    for (let i = 0; i < REPOS; i += 4) {
      await Promise.all(layouts.slice(i, i + 4).map((l, j) => pushLayout(l, `${scenario.src.host}/team/${name(i + j)}`)));
    }
    const deadline = Date.now() + 180_000;
    for (let i = 0; i < REPOS; i++) {
      const url = `${scenario.dst.url}/v2/team/${name(i)}/manifests/v1`;
      for (;;) {
        const res = await fetch(url, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
        if (res.status === 200 && res.headers.get('docker-content-digest') === layouts[i]!.tags[0]!.digest) break;
        if (Date.now() > deadline) throw new Error(`team/${name(i)}:v1 did not arrive at the destination within 180 s`);
        await sleep(100);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const u = await uploadsFromLog(scenario.dst.logFile, sizes);
    const want = [...distinct].reduce((n, d) => n + sizes.get(d)!, 0);
    return `webhook (${REPOS} pushes, ferry serve, worker.concurrency 3): uploaded ${mb(u.bytes)} (distinct blobs ${mb(want)}), `
      + `${u.mounts} mounts, each distinct blob exactly once: ${exactlyOnce(u, distinct.size) ? 'yes' : 'NO'}; all replicated ${seconds.toFixed(2)} s after the first push began`;
  } finally {
    await scenario.stop();
  }
}

async function main(): Promise<void> {
  log('building dist/cli.js ...');
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (!existsSync('dist/cli.js')) throw new Error('dist/cli.js missing after build');
  const work = await mkdtemp(join(tmpdir(), 'ferry-bench-fanin-'));
  try {
    const src = await startRegistry({ name: 'src', logLevel: 'error' });
    log(`building and pushing ${REPOS} repositories x (1 and 3 tags): 3 x 8 MiB base + 2 MiB own layer ...`);
    const base = await buildImage({ layerSizes: BASE_LAYERS, label: 'base' });
    const sizes = new Map<string, number>();
    const cases = [{ prefix: 'one', tags: 1 }, { prefix: 'three', tags: 3 }] as const;
    const distinct: Record<string, Set<string>> = {};
    for (const c of cases) {
      distinct[c.prefix] = new Set();
      for (let i = 0; i < REPOS; i++) {
        const layout = await composeRepository(base, await buildImage({ layerSizes: [OWN_LAYER], label: `${c.prefix}-${i}` }), c.tags);
        for (const [d, s] of layout.blobs) {
          sizes.set(d, s);
          distinct[c.prefix]!.add(d);
        }
        await pushLayout(layout, `${src.host}/${c.prefix}/${name(i)}`);
        await rm(layout.dir, { recursive: true, force: true });
      }
    }

    const results: Record<string, { ferry: RunResult[]; skopeo: RunResult[] }> = { one: { ferry: [], skopeo: [] }, three: { ferry: [], skopeo: [] } };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of cases) {
        const order = round % 2 === 1 ? ['ferry', 'skopeo'] as const : ['skopeo', 'ferry'] as const;
        for (const tool of order) {
          const r = tool === 'ferry' ? await runFerry(src, c.prefix, work, sizes) : await runSkopeo(src, c.prefix, work, sizes);
          results[c.prefix]![tool].push(r);
        }
        const f = results[c.prefix]!.ferry.at(-1)!;
        const s = results[c.prefix]!.skopeo.at(-1)!;
        log(`round ${round}/${ROUNDS} ${c.tags} tag(s): ferry ${f.seconds.toFixed(2)} s (cpu ${f.cpuSeconds.toFixed(2)} s) ${mb(f.uploads.bytes)}, skopeo ${s.seconds.toFixed(2)} s (cpu ${s.cpuSeconds.toFixed(2)} s) ${mb(s.uploads.bytes)}`);
      }
    }

    const lines: string[] = [];
    lines.push(`fan-in: ${REPOS} repositories, each 3 x 8 MiB shared base + 2 MiB own layer; ${ROUNDS} rounds, fresh destination per run, medians`);
    lines.push('| scenario | ferry `sync --wait` | `skopeo sync` | ratio |');
    lines.push('|---|---|---|---|');
    for (const c of cases) {
      const r = results[c.prefix]!;
      const fs = median(r.ferry.map((x) => x.seconds));
      const ss = median(r.skopeo.map((x) => x.seconds));
      const fb = median(r.ferry.map((x) => x.uploads.bytes));
      const sb = median(r.skopeo.map((x) => x.uploads.bytes));
      const want = [...distinct[c.prefix]!].reduce((n, d) => n + sizes.get(d)!, 0);
      const label = c.tags === 1 ? '1 tag per repo' : '3 tags per repo (sharing all layers)';
      lines.push(`| ${label}: wall | ${fs.toFixed(2)} s | ${ss.toFixed(2)} s | **${(fs / ss).toFixed(2)}** |`);
      lines.push(`| ${label}: bytes uploaded to destination | ${mb(fb)} | ${mb(sb)} | **${(fb / sb).toFixed(2)}** |`);
      const once = r.ferry.filter((x) => exactlyOnce(x.uploads, distinct[c.prefix]!.size)).length;
      lines.push(`| ${label}: ferry runs with each distinct blob (${distinct[c.prefix]!.size}, ${mb(want)}) uploaded exactly once | ${once}/${r.ferry.length} | | |`);
    }
    lines.push(`ferry wall per round: one ${results.one!.ferry.map((x) => x.seconds.toFixed(2)).join(' ')}; three ${results.three!.ferry.map((x) => x.seconds.toFixed(2)).join(' ')}`);
    lines.push(`skopeo wall per round: one ${results.one!.skopeo.map((x) => x.seconds.toFixed(2)).join(' ')}; three ${results.three!.skopeo.map((x) => x.seconds.toFixed(2)).join(' ')}`);
    if (!process.argv.includes('--skip-webhook')) {
      log('webhook run through ferry serve ...');
      lines.push(await webhookRun(base, sizes));
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await runBench(main);
