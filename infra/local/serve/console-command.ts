// `ferry console`: the control plane over HTTP (the console at /, /api/*) on the
// configured backend, without workers or webhooks. Registry credentials are resolved
// only when a sync or verify contacts a registry.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openBackend } from '../../../shared/adapters/open.js';
import { createControlPlane } from '../../../shared/control/control-plane.js';
import { replayDeadJobs } from '../../../shared/jobs/replay.js';
import { createLogger } from '../../../shared/observability/logger.js';
import { FerryMetrics } from '../../../shared/observability/metrics.js';
import { createSync } from '../../../shared/reconcile/sync.js';
import type { RegistryClient } from '../../../shared/registry/client.js';
import { createRegistryClients } from '../../../shared/registry/clients.js';
import { loadCliConfig } from '../cli/config.js';
import { CliError, EXIT_USAGE } from '../cli/output.js';
import { formatAddress, parseListen } from './listen.js';
import { createRequestHandler } from './routes.js';

export async function consoleCommand(opts: { config?: string; listen: string }): Promise<void> {
  let listen;
  try {
    listen = parseListen(opts.listen);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT_USAGE);
  }
  const config = await loadCliConfig(opts.config, { deferRegistrySecrets: true });
  if (!config.admin.token) throw new CliError('ferry console needs admin.token in the config (the console logs in with it)', EXIT_USAGE);
  const logger = createLogger({ name: 'ferry-console' });
  const backend = await openBackend(config);
  let clients: Map<string, RegistryClient> | undefined;
  const getClients = () => (clients ??= createRegistryClients(config));
  const deps = { queue: backend.queue, store: backend.store };
  const sync: ReturnType<typeof createSync> = (request) => createSync({ config, clients: getClients(), deps, logger })(request);
  const control = createControlPlane({ config, backend, logger, clients: getClients, sync });
  const notHere = { response: { status: 404, body: { error: 'not found', detail: 'ferry console receives no webhooks: point registries at ferry serve or the webhook function' } } };
  const handler = createRequestHandler({
    config,
    backend,
    ingest: async () => notHere.response,
    screen: () => notHere,
    replay: (selector, by) => replayDeadJobs(deps, selector, by),
    sync,
    metrics: new FerryMetrics(),
    logger,
    control,
    draining: () => false,
  });
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const url = `http://${formatAddress(a.address, a.port)}`;
  logger.info({ url, backend: config.backend }, `ferry console on ${url}`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await backend.close();
  await Promise.all([...(clients?.values() ?? [])].map((c) => c.close().catch(() => {})));
  process.exit(0);
}
