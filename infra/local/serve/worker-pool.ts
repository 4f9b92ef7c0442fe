// The worker pool: `concurrency` loops, each receiving one message at a time and handing
// it to the job runner. Idle loops sleep until the poll interval passes or wake() is
// called (the webhook calls it right after a send, so a push starts copying at once).
import type { JobQueue, ReceivedMessage } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';

export interface MessageHandler {
  handle(received: ReceivedMessage, signal: AbortSignal): Promise<unknown>;
}

/** Optional queue capability: keep a long job's message invisible while it still runs. */
export interface VisibilityExtender {
  extendVisibility(receipt: string, visibilitySeconds: number): Promise<void>;
}

function canExtend(queue: JobQueue): queue is JobQueue & VisibilityExtender {
  return typeof (queue as Partial<VisibilityExtender>).extendVisibility === 'function';
}

export interface WorkerPoolOptions {
  queue: JobQueue;
  runner: MessageHandler;
  concurrency: number;
  visibilitySeconds: number;
  logger: Logger;
  /** Sleep between empty receives when nobody wakes the pool. */
  pollIntervalMs?: number;
  /** Long-poll seconds passed to receive (0 for the embedded queue, which cannot block). */
  waitSeconds?: number;
}

export interface DrainResult {
  finished: number;
  released: number;
}

export interface WorkerPool {
  start(): void;
  /** Something was just queued: idle loops receive now instead of at the next poll. */
  wake(): void;
  /** Number of jobs running right now. */
  readonly running: number;
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

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const { queue, runner, logger } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 500;
  const waitSeconds = options.waitSeconds ?? 0;
  const running = new Set<Running>();
  const loops: Promise<void>[] = [];
  let stopping = false;
  let wakers: Array<() => void> = [];

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

  function keepInvisible(received: ReceivedMessage): () => void {
    if (!canExtend(queue)) return () => {};
    // Extend at a third of the timeout so one slow extension call cannot let it lapse.
    const every = Math.max(1000, (options.visibilitySeconds * 1000) / 3);
    const timer = setInterval(() => {
      queue.extendVisibility(received.receipt, options.visibilitySeconds).catch((err: unknown) => {
        logger.warn({ jobId: received.message.jobId, err }, 'could not extend message visibility');
      });
    }, every);
    timer.unref();
    return () => clearInterval(timer);
  }

  async function run(received: ReceivedMessage): Promise<void> {
    const controller = new AbortController();
    const stopExtending = keepInvisible(received);
    const entry: Running = { received, controller, settled: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        await runner.handle(received, controller.signal);
      } catch (err) {
        // The runner owns ack/retry; reaching here means it could not even record the
        // outcome (store down). The message reappears after its visibility timeout.
        logger.error({ jobId: received.message.jobId, key: received.message.key, err }, 'job handler failed');
      } finally {
        stopExtending();
        entry.settled = true;
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
        await idle(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)));
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
    wake,
    get running() {
      return running.size;
    },
    async drain(graceMs) {
      stopping = true;
      wake();
      const inFlight = [...running];
      const all = Promise.all(inFlight.map((r) => r.done));
      await Promise.race([all, sleep(graceMs)]);
      const late = inFlight.filter((r) => !r.settled);
      for (const r of late) r.controller.abort(new Error('ferry is shutting down'));
      // A short moment for aborted runs to settle; whatever did not is released by us.
      await Promise.race([Promise.all(late.map((r) => r.done)), sleep(1000)]);
      let released = 0;
      for (const r of late) {
        if (r.settled) continue;
        try {
          await queue.retryLater(r.received.receipt, 0);
          released++;
          logger.warn({ jobId: r.received.message.jobId, key: r.received.message.key }, 'released unfinished job on shutdown');
        } catch (err) {
          logger.error({ jobId: r.received.message.jobId, err }, 'could not release job on shutdown');
        }
      }
      await Promise.race([Promise.all(loops), sleep(1000)]);
      return { finished: inFlight.length - late.length, released };
    },
  };
}

/**
 * The queue as the webhook sees it: sends also wake the pool. Delegates explicitly so
 * adapter classes keep their `this`.
 */
export function wakingQueue(queue: JobQueue, onSend: () => void): JobQueue {
  return {
    async send(messages, delaySeconds) {
      await queue.send(messages, delaySeconds);
      if (!delaySeconds) onSend();
    },
    receive: (max, vis, wait) => queue.receive(max, vis, wait),
    ack: (receipt) => queue.ack(receipt),
    retryLater: (receipt, delay) => queue.retryLater(receipt, delay),
    deadLetter: (receipt, message, reason) => queue.deadLetter(receipt, message, reason),
    listDead: (limit) => queue.listDead(limit),
    replayDead: (selector, resolve) => queue.replayDead(selector, resolve),
    depth: () => queue.depth(),
  };
}
