// The worker pool: `concurrency` loops, each receiving one message at a time and handing
// it to the job runner (which owns ack, retry, dead-lettering and extending the message's
// visibility while a long copy runs). Receives long-poll, so a push starts copying at once.
import type { JobQueue, ReceivedMessage } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';
import { backoffDelayMs } from '../../../shared/retry/backoff.js';

export interface MessageHandler {
  handle(received: ReceivedMessage, signal: AbortSignal): Promise<unknown>;
}

export interface WorkerPoolOptions {
  queue: JobQueue;
  runner: MessageHandler;
  concurrency: number;
  visibilitySeconds: number;
  logger: Logger;
  /** Sleep between empty receives (0 when receive long-polls). */
  pollIntervalMs?: number;
  /** Long-poll seconds passed to receive. */
  waitSeconds?: number;
}

export interface DrainResult {
  finished: number;
  released: number;
}

export interface WorkerPool {
  start(): void;
  /** Number of jobs running right now. */
  readonly running: number;
  /** Resolves when the next message this pool runs has been handled (whatever the outcome). */
  handled(): Promise<void>;
  /**
   * Stop receiving; wait up to graceMs for running jobs; abort and release the rest
   * (visible again at once, for the next process to take).
   */
  drain(graceMs: number): Promise<DrainResult>;
}

interface Running {
  received: ReceivedMessage;
  controller: AbortController;
  done: Promise<void>;
  settled: boolean;
}

/** How long aborted runs get to release their jobs themselves (more than copy's stopGraceMs, 3 s). */
const RELEASE_WAIT_MS = 5000;

/** Waits for `p` at most `ms`; the timer is cleared either way so it never holds the process open. */
async function waitAtMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const { queue, runner, logger } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 0;
  const waitSeconds = options.waitSeconds ?? 1;
  const running = new Set<Running>();
  const loops: Promise<void>[] = [];
  let stopping = false;
  let wakers: Array<() => void> = [];
  let handledWaiters: Array<() => void> = [];

  function wake(): void {
    const current = wakers;
    wakers = [];
    for (const w of current) w();
  }

  function idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      wakers.push(done);
    });
  }

  async function run(received: ReceivedMessage): Promise<void> {
    const controller = new AbortController();
    const entry: Running = { received, controller, settled: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        await runner.handle(received, controller.signal);
      } catch (err) {
        // The runner owns ack/retry; reaching here means it could not even record the
        // outcome (store down). The message reappears after its visibility timeout.
        logger.error({ jobId: received.message.jobId, key: received.message.key, err }, 'job handler failed');
      } finally {
        entry.settled = true;
        const waiters = handledWaiters;
        handledWaiters = [];
        for (const w of waiters) w();
      }
    })();
    running.add(entry);
    try {
      await entry.done;
    } finally {
      running.delete(entry);
    }
  }

  async function loop(index: number): Promise<void> {
    let failures = 0;
    while (!stopping) {
      let batch: ReceivedMessage[];
      try {
        batch = await queue.receive(1, options.visibilitySeconds, waitSeconds);
        failures = 0;
      } catch (err) {
        failures++;
        logger.error({ worker: index, err }, 'receiving from the job queue failed');
        await idle(backoffDelayMs(failures + 1, { baseMs: 500, capMs: 30_000, jitter: 'none' }));
        continue;
      }
      if (stopping) {
        // Received while draining: hand it straight back.
        for (const m of batch) await queue.retryLater(m.receipt, 0).catch(() => {});
        break;
      }
      if (batch.length === 0) {
        await idle(pollIntervalMs);
        continue;
      }
      for (const received of batch) await run(received);
    }
  }

  return {
    start() {
      for (let i = 0; i < options.concurrency; i++) loops.push(loop(i));
    },
    get running() {
      return running.size;
    },
    handled() {
      return new Promise((resolve) => handledWaiters.push(resolve));
    },
    async drain(graceMs) {
      stopping = true;
      wake();
      // Loops blocked in a long poll would otherwise hold the drain for the poll's wait.
      queue.interrupt?.();
      const inFlight = [...running];
      const all = Promise.all(inFlight.map((r) => r.done));
      await waitAtMost(all, graceMs);
      const late = inFlight.filter((r) => !r.settled);
      for (const r of late) r.controller.abort(new Error('ferry is shutting down'));
      // Aborted runs release their own message and job record (the runner does not count the
      // attempt). They get longer than the copy engine's 3 s for a chunk in flight to finish.
      // Whatever does not settle in time only has its message made visible again here: its
      // record stays `running` until the next run takes it over.
      await waitAtMost(Promise.all(late.map((r) => r.done)), RELEASE_WAIT_MS);
      let released = 0;
      for (const r of late) {
        const fields = { jobId: r.received.message.jobId, key: r.received.message.key };
        if (r.settled) {
          released++;
          logger.warn({ ...fields, by: 'runner' }, 'released unfinished job on shutdown');
          continue;
        }
        try {
          await queue.retryLater(r.received.receipt, 0);
          released++;
          logger.warn({ ...fields, by: 'pool' }, 'released unfinished job on shutdown');
        } catch (err) {
          logger.error({ ...fields, err }, 'could not release job on shutdown');
        }
      }
      await waitAtMost(Promise.all(loops), 1000);
      return { finished: inFlight.length - late.length, released };
    },
  };
}
