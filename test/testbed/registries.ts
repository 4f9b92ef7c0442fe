// Starts real Distribution registries for tests and guarantees they stop: every registry
// started here is tracked, and all are killed when the test process ends, even on failure.

import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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

function blobDataPath(registry: DistributionRegistry, digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  return join(registry.dataDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

/**
 * Deletes the storage file holding a blob's bytes; the registry still lists the blob. With
 * `blobDescriptorCache` a GET of it is then answered with headers and a body that breaks off;
 * without, with 404.
 */
export async function deleteBlobData(registry: DistributionRegistry, digest: string): Promise<void> {
  await rm(blobDataPath(registry, digest));
}

/** Puts a blob's bytes back where `deleteBlobData` removed them. */
export async function restoreBlobData(registry: DistributionRegistry, digest: string, bytes: Buffer): Promise<void> {
  await writeFile(blobDataPath(registry, digest), bytes);
}
