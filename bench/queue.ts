// Throughput of the embedded (SQLite) job pipeline: how fast enqueue() makes jobs durable,
// and how fast N concurrent runner loops drain them with a no-op replicate. Measures the
// queue + store + runner overhead that every replicated image pays.
//   npx tsx bench/queue.ts [jobs=5000] [batch=100]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openEmbeddedBackend } from '../shared/adapters/embedded/index.js';
import { enqueue, type JobSpec } from '../shared/jobs/enqueue.js';
import { createJobRunner } from '../shared/jobs/runner.js';
import { emptyStats } from '../shared/replicate/types.js';

const JOBS = Number(process.argv[2] ?? 5000);
const BATCH = Number(process.argv[3] ?? 100);
const LOOPS = (process.env.BENCH_LOOPS ?? "1,4,16").split(",").map(Number);

function specs(from: number, count: number): JobSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    policy: 'bench',
    source: { registry: 'src', repository: `team/app-${(from + i) % 50}`, reference: `v${from + i}` },
    destination: { registry: 'dst', repository: `mirror/team/app-${(from + i) % 50}` },
  }));
}

async function runOnce(loops: number): Promise<{ enqueuePerSec: number; completePerSec: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-bench-queue-'));
  const backend = openEmbeddedBackend({ dataDir });
  try {
    let t0 = performance.now();
    for (let i = 0; i < JOBS; i += BATCH) {
      await enqueue(backend, specs(i, Math.min(BATCH, JOBS - i)), { kind: 'reconcile', at: new Date().toISOString() });
    }
    const enqueueSec = (performance.now() - t0) / 1000;

    const runner = createJobRunner({
      queue: backend.queue,
      store: backend.store,
      replicate: async () => ({ action: 'copied', stats: emptyStats() }),
      maxAttempts: 5,
      retryDelayMs: 1000,
      visibilitySeconds: 300,
    });
    let done = 0;
    t0 = performance.now();
    await Promise.all(Array.from({ length: loops }, async () => {
      for (;;) {
        const got = await backend.queue.receive(1, 300, 0);
        if (got.length === 0) return;
        const result = await runner.handle(got[0]!);
        if (result === 'succeeded') done++;
      }
    }));
    const completeSec = (performance.now() - t0) / 1000;
    if (done !== JOBS) throw new Error(`expected ${JOBS} succeeded jobs, got ${done}`);
    const depth = await backend.queue.depth();
    if (depth.queued + depth.inFlight + depth.dead !== 0) throw new Error(`queue not empty: ${JSON.stringify(depth)}`);
    return { enqueuePerSec: JOBS / enqueueSec, completePerSec: JOBS / completeSec };
  } finally {
    await backend.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

console.log(`embedded queue: ${JOBS} jobs, enqueue() batches of ${BATCH}, no-op replicate`);
console.log('runner loops | enqueued jobs/s | completed jobs/s');
for (const loops of LOOPS) {
  const r = await runOnce(loops);
  console.log(`${String(loops).padStart(12)} | ${r.enqueuePerSec.toFixed(0).padStart(15)} | ${r.completePerSec.toFixed(0).padStart(16)}`);
}
