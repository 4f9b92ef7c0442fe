// `ferry serve` assembled: backend, registry clients (one shared bandwidth limit), copy
// engine, job runner, worker pool, webhook intake, admin API, scheduler, and an orderly
// drain. The command (commands/serve.ts) and the demo both start the host through here.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openBackend } from '../../../shared/adapters/open.js';
import type { FerryConfig } from '../../../shared/config/schema.js';
import { createIngest } from '../../../shared/intake/ingest.js';
import { createWebhookScreen } from '../../../shared/intake/screen.js';
import { digestPushDelayFromEnv } from '../../../shared/policy/plan.js';
import { replayDeadJobs } from '../../../shared/jobs/replay.js';
import type { Backend } from '../../../shared/jobs/ports.js';
import type { Logger } from '../../../shared/observability/logger.js';
import { FerryMetrics } from '../../../shared/observability/metrics.js';
import { createSync } from '../../../shared/reconcile/sync.js';
import { formatAddress, type ListenAddress } from './listen.js';
import { startRetention } from './retention.js';
import { createRequestHandler } from './routes.js';
import { startScheduler, validateSchedules, type Scheduler } from './scheduler.js';
import { createWorkerStack } from './worker-stack.js';
import { createControlPlane } from '../../../shared/control/control-plane.js';
import { RegistryHealthTracker } from '../../../shared/control/registry-health.js';
import { rateView } from '../../../shared/control/rate-view.js';

/**
 * Slow senders (slowloris) hold a connection only this long: headers within 10 s, the
 * whole request (a webhook body is at most 1 MiB) within 30 s; checked every second.
 */
const SERVER_LIMITS = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1000 } as const;
/** Connections beyond this are closed at once: each costs memory before it proves anything. */
export const MAX_CONNECTIONS = 512;

export interface HostOptions {
  config: FerryConfig;
  listen: ListenAddress;
  logger: Logger;
  /** Use this backend instead of opening the configured one (it is closed on stop either way). */
  backend?: Backend;
  /**
   * Deferral of digest-only single-platform pushes (seconds, see shared/policy/plan.ts).
   * Default: $FERRY_DIGEST_PUSH_DELAY when set (tests shorten it), else 30.
   */
  digestPushDelaySeconds?: number;
}

export interface Host {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly address: ListenAddress;
  readonly metrics: FerryMetrics;
  /** Drain and close; safe to call more than once. Resolves when everything is closed. */
  stop(reason?: string): Promise<void>;
}

export class HostStartError extends Error {
  override readonly name = 'HostStartError';
}

function listenOn(server: Server, address: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new HostStartError(`cannot listen on ${formatAddress(address.host, address.port)}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`));
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      resolve({ host: a.address, port: a.port });
    });
  });
}

export async function startHost(options: HostOptions): Promise<Host> {
  const { config, logger } = options;
  const problems = validateSchedules(config);
  if (problems.length > 0) throw new HostStartError(`invalid schedule: ${problems.join('; ')}`);
  let digestPushDelaySeconds = options.digestPushDelaySeconds;
  try {
    digestPushDelaySeconds ??= digestPushDelayFromEnv(process.env);
  } catch (err) {
    throw new HostStartError((err as Error).message);
  }

  const metrics = new FerryMetrics({ defaultMetrics: true });
  const backend = options.backend ?? (await openBackend(config, { longRunning: true }));
  if (backend.recoverAbandoned) {
    // A killed predecessor's jobs run now, not after their visibility timeout.
    try {
      const recovered = await backend.recoverAbandoned();
      if (recovered.messages + recovered.leases > 0) logger.warn(recovered, 'released jobs and key leases held by a process that is gone');
    } catch (err) {
      logger.warn({ err }, 'could not release the work of a process that is gone; it runs after its visibility timeout');
    }
  }
  const health = new RegistryHealthTracker();
  const workers = createWorkerStack(config, backend, { logger, metrics, observer: health.observe });
  const { clients, pool } = workers;
  const queue = backend.queue;

  const ingest = createIngest({
    config, queue, store: backend.store, logger, metrics,
    recordDelivery: (d) => backend.control.recordDelivery(d),
    ...(digestPushDelaySeconds !== undefined ? { digestPushDelaySeconds } : {}),
  });
  const replay = (selector: Parameters<typeof replayDeadJobs>[1], by: string) =>
    replayDeadJobs({ queue, store: backend.store }, selector, by);
  const sync = createSync({ config, clients, deps: { queue, store: backend.store }, logger, metrics });
  const control = createControlPlane({
    config, backend, logger, clients: () => clients, sync, health,
    // The workers' own clients: their rate controllers pace (and back off) the copies.
    registryExtras: (name) => {
      const client = clients.get(name);
      return client ? rateView(client.rate, Date.now()) : undefined;
    },
  });

  let draining = false;
  const screen = createWebhookScreen({ config, logger, metrics });
  const server = createServer(SERVER_LIMITS, createRequestHandler({ config, backend, ingest, screen, replay, sync, metrics, logger, control, draining: () => draining }));
  server.keepAliveTimeout = 5000;
  server.maxConnections = MAX_CONNECTIONS;
  let address: ListenAddress;
  try {
    address = await listenOn(server, options.listen);
  } catch (err) {
    await workers.close();
    await backend.close();
    throw err;
  }
  const url = `http://${formatAddress(address.host, address.port)}`;

  pool.start();
  const retention = startRetention(backend.store, logger);
  let scheduler: Scheduler | undefined = startScheduler(config, sync, logger);
  logger.info(
    {
      address: formatAddress(address.host, address.port),
      url,
      backend: config.backend,
      workers: config.worker.concurrency,
      registries: Object.keys(config.registries),
      policies: config.policies.map((p) => p.name),
      schedules: scheduler.next,
      // Only registries some policy reads from send events worth receiving.
      webhooks: [...new Set(config.policies.map((p) => p.source))].map((r) => `${url}/webhooks/${encodeURIComponent(r)}`),
    },
    `ferry listening on ${url}`,
  );

  let stopping: Promise<void> | undefined;
  async function stop(reason = 'stop requested'): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      draining = true;
      logger.info({ reason, running: pool.running, graceMs: config.worker.shutdownGrace }, 'draining: no new jobs or webhooks');
      scheduler?.stop();
      scheduler = undefined;
      retention.stop();
      const result = await pool.drain(config.worker.shutdownGrace);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await workers.close();
      await backend.close();
      logger.info({ ...result }, 'ferry stopped');
    })();
    return stopping;
  }

  return { url, address, metrics, stop };
}
