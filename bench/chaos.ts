// Chaos run of `ferry serve` on real registries: 30 images pushed (skopeo) to a source
// Distribution whose notifications go to ferry, while ferry is killed with SIGKILL five
// times, the destination registry is down for a while, and ferry's dataDir (a small tmpfs)
// is full for a while. Then: every image must be at the destination digest-identical
// within a minute of the last fault, every webhook ferry answered 2xx must have its jobs,
// and the SQLite file must pass an integrity check.
//   npx tsx bench/chaos.ts          (as root: it mounts a 32 MiB tmpfs for the dataDir)
// Too long for the test suite (about two minutes with image builds); run by hand.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Job } from '../shared/jobs/model.js';
import { buildImage, pushImage, type TestImage } from '../test/testbed/images.js';
import { startScenario, type Scenario } from '../test/e2e/scenario.js';

const IMAGES = 30;
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const at = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s`;
const say = (text: string) => console.log(`${at()}  ${text}`);

/** Fills the filesystem until writes fail with ENOSPC; returns the filler's path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(MiB, 0x5a);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  // Whatever is left below a MiB goes too.
  try {
    for (;;) writeSync(fd, chunk.subarray(0, 4096));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  closeSync(fd);
  return path;
}

async function destinationDigest(s: Scenario, repository: string, tag: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${s.dst.url}/v2/${repository}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
    });
    return res.status === 200 ? res.headers.get('docker-content-digest') ?? undefined : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const mnt = await mkdtemp(join(tmpdir(), 'ferry-chaos-data-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', mnt]);
  say(`dataDir on a 32 MiB tmpfs at ${mnt}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  let s: Scenario | undefined;
  const images: TestImage[] = [];
  try {
    for (let i = 0; i < IMAGES; i++) images.push(await buildImage({ layerSizes: [512 * 1024, 64 * 1024], label: `chaos-${i}` }));
    say(`built ${IMAGES} images`);
    s = await startScenario({
      policies: [{ name: 'chaos', source: 'src', repositories: ['chaos/**'], destinations: [{ registry: 'dst' }] }],
      // Product defaults for retries (5 s first backoff), a little more patience for five crashes.
      worker: { concurrency: 3, retryDelay: '5s', maxAttempts: 8 },
      config: { dataDir: join(mnt, 'data') },
      env: { FERRY_DIGEST_PUSH_DELAY: '1s' },
    });
    const scenario = s;
    const ref = (i: number) => ({ repository: `chaos/app${String(i).padStart(2, '0')}`, tag: 'v1' });

    // Pushes spread over the fault window, one at a time (skopeo), in the background.
    let pushErrors = 0;
    const pushing = (async () => {
      for (let i = 0; i < IMAGES; i++) {
        const { repository, tag } = ref(i);
        try {
          await pushImage(images[i]!, `${scenario.src.host}/${repository}:${tag}`);
        } catch (err) {
          pushErrors++;
          say(`push ${i} failed: ${(err as Error).message.slice(0, 200)}`);
        }
        await sleep(600);
      }
      say('all pushes done');
    })();

    const kill9 = async (n: number) => {
      await scenario.ferry.kill9();
      say(`fault: kill -9 ferry (#${n})`);
      await sleep(700);
      await scenario.ferry.restart();
      say('ferry restarted');
    };
    await sleep(2000);
    await kill9(1);
    await sleep(2500);
    await kill9(2);
    await sleep(1000);
    process.kill(scenario.dst.pid!, 'SIGKILL');
    say('fault: destination registry down (SIGKILL)');
    await sleep(2000);
    await kill9(3);
    await sleep(4000);
    await scenario.dst.restart();
    say('destination registry back');
    await sleep(1500);
    const filler = fillDisk(mnt);
    say(`fault: dataDir full (${execFileSync('df', ['-h', mnt]).toString().trim().split('\n')[1]})`);
    await sleep(6000);
    unlinkSync(filler);
    say('dataDir has room again');
    await sleep(2000);
    await kill9(4);
    await sleep(3000);
    await kill9(5);
    const lastFault = Date.now();
    say('last fault over');
    await pushing;

    // Convergence: every image at the destination with the source's digest.
    const arrived = new Map<number, number>();
    const deadline = Date.now() + 180_000;
    while (arrived.size < IMAGES && Date.now() < deadline) {
      for (let i = 0; i < IMAGES; i++) {
        if (arrived.has(i)) continue;
        const { repository, tag } = ref(i);
        if ((await destinationDigest(scenario, repository, tag)) === images[i]!.digest) arrived.set(i, Date.now());
      }
      if (arrived.size < IMAGES) await sleep(250);
    }
    const lastArrival = Math.max(...arrived.values());
    say(`${arrived.size}/${IMAGES} images at the destination with the source digest; the last ${((lastArrival - lastFault) / 1000).toFixed(1)} s after the last fault`);

    // Every 2xx webhook has its jobs: ferry logs each 202 with the ids of its jobs.
    const lines = scenario.ferry.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const queued = lines.filter((l) => l.msg === 'webhook: jobs queued');
    const ignoredOk = lines.filter((l) => l.msg === 'webhook: nothing to replicate').length;
    const refused = lines.filter((l) => l.msg === 'webhook: queue unavailable').length;
    const ids = new Set(queued.flatMap((l) => l.jobs as string[]));
    let missing = 0;
    for (const id of ids) {
      const r = await scenario.api<Job>('GET', `/api/jobs/${id}`);
      if (r.status !== 200) missing++;
    }
    const { jobs } = await scenario.cliJson<{ jobs: Job[] }>(['jobs', '--limit', '1000']);
    const byStatus: Record<string, number> = {};
    for (const j of jobs) byStatus[j.status] = (byStatus[j.status] ?? 0) + 1;
    say(`webhooks answered 202: ${queued.length} (naming ${ids.size} jobs, ${missing} missing from the store); 503 while the disk was full: ${refused}; other 2xx (nothing to replicate, answered only at debug level: ${ignoredOk})`);
    say(`jobs by status: ${JSON.stringify(byStatus)}; skopeo push failures: ${pushErrors}`);
    await scenario.ferry.stop();
    const db = new Database(join(mnt, 'data', 'ferry.db'), { readonly: true });
    const integrity = db.pragma('integrity_check', { simple: true });
    db.close();
    say(`SQLite integrity_check: ${String(integrity)}`);
    const ok = arrived.size === IMAGES && lastArrival - lastFault <= 60_000 && missing === 0 && integrity === 'ok';
    say(ok ? 'PASS' : 'FAIL');
    process.exitCode = ok ? 0 : 1;
  } finally {
    await s?.stop();
    for (const image of images) await image.dispose();
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
}

await main();
