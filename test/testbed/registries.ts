// Starts real Distribution registries for tests and guarantees they stop: every registry
// started here is tracked, and all are killed when the test process ends, even on failure.

import {
  killAllRegistries,
  startDistribution,
  type DistributionOptions,
  type DistributionRegistry,
} from '../../infra/local/demo/distribution.js';

export type { DistributionOptions, DistributionRegistry } from '../../infra/local/demo/distribution.js';

const running = new Set<DistributionRegistry>();
let signalHooksInstalled = false;

function installSignalHooks(): void {
  if (signalHooksInstalled) return;
  signalHooksInstalled = true;
  // The launcher kills survivors on `exit`; signals must first be turned into an exit.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllRegistries();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

export async function startRegistry(opts: DistributionOptions = {}): Promise<DistributionRegistry> {
  installSignalHooks();
  const registry = await startDistribution(opts);
  running.add(registry);
  const stop = registry.stop.bind(registry);
  registry.stop = async () => {
    running.delete(registry);
    await stop();
  };
  return registry;
}

/** Starts `n` registries in parallel; options may depend on the index (e.g. per-registry auth). */
export async function startRegistries(
  n: number,
  opts: DistributionOptions | ((index: number) => DistributionOptions) = {},
): Promise<DistributionRegistry[]> {
  const settled = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => startRegistry(typeof opts === 'function' ? opts(i) : { ...opts, ...(opts.name ? { name: `${opts.name}-${i}` } : {}) })),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<DistributionRegistry>).value);
}

export async function stopRegistries(registries: Iterable<DistributionRegistry | undefined>): Promise<void> {
  await Promise.all([...registries].map((r) => r?.stop()));
}

/** Stops every registry this process started through the testbed (use in afterAll). */
export async function stopAllRegistries(): Promise<void> {
  await stopRegistries([...running]);
}

export function runningRegistries(): DistributionRegistry[] {
  return [...running];
}
