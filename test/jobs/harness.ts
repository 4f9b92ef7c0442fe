// A real embedded backend in a temp dir on a manual clock, plus helpers to enqueue jobs
// the way the webhook does and to receive them the way a worker does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedBackend } from '../../shared/adapters/embedded/index.js';
import { enqueue, type JobSpec } from '../../shared/jobs/enqueue.js';
import type { Job } from '../../shared/jobs/model.js';
import type { Backend, Clock, ReceivedMessage } from '../../shared/jobs/ports.js';
import { emptyStats, type ReplicateOutcome } from '../../shared/replicate/types.js';
import { createManualClock, type ManualClock } from '../contract/manual-clock.js';

export interface Harness extends Backend {
  clock: ManualClock;
  dataDir: string;
  /** A second connection to the same file (another worker process's view). */
  reopen(): Backend;
  enqueueEvent(reference?: string, eventId?: string, repository?: string): Promise<Job>;
  receiveOne(visibilitySeconds?: number): Promise<ReceivedMessage>;
}

export function spec(reference = 'v1', repository = 'team/app'): JobSpec {
  return {
    policy: 'mirror',
    source: { registry: 'src', repository, reference },
    destination: { registry: 'dr', repository: `mirror/${repository}` },
  };
}

export function openHarness(clock: ManualClock = createManualClock(new Date('2026-05-01T12:00:00.000Z'))): Harness {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-jobs-'));
  const backend = openEmbeddedBackend({ dataDir, clock });
  const others: Backend[] = [];
  return {
    ...backend,
    clock,
    dataDir,
    reopen() {
      const b = openEmbeddedBackend({ dataDir, clock: clock as Clock });
      others.push(b);
      return b;
    },
    async enqueueEvent(reference = 'v1', eventId = `evt-${Math.random()}`, repository = 'team/app') {
      const [r] = await enqueue({ queue: backend.queue, store: backend.store, clock }, [spec(reference, repository)], { kind: 'event', eventId, at: clock.now().toISOString(), action: 'push' });
      return r!.job;
    },
    async receiveOne(visibilitySeconds = 60) {
      const [r] = await backend.queue.receive(1, visibilitySeconds, 0);
      if (!r) throw new Error('expected a visible message, the queue had none');
      return r;
    },
    async close() {
      for (const b of others) await b.close();
      await backend.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function copied(bytes = 100): ReplicateOutcome {
  return { action: 'copied', digest: `sha256:${'c'.repeat(64)}`, stats: { ...emptyStats(), manifests: 1, blobs: { copied: 2, skipped: 0, mounted: 0 }, bytes } };
}

/** A promise with its resolve exposed: lets a test hold a replicate call open. */
export function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((resolve) => { open = resolve; });
  return { promise, open };
}
