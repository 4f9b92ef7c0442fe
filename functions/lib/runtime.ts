// Per-container bootstrap shared by every handler: the baked config, its secrets resolved
// from Secrets Manager, a logger, metrics and the SQS/DynamoDB backend, created on the first
// invocation (cold start) and reused by every later one in the same container.
import { readFileSync } from 'node:fs';
import type { AwsBackend } from '../../shared/adapters/aws/index.js';
import type { FerryConfig } from '../../shared/config/schema.js';
import type { Logger } from '../../shared/observability/logger.js';
import type { LambdaMetrics } from './emf-metrics.js';
import { BAKED_CONFIG_FILE, ENV, readBakedConfig } from './baked-config.js';
import { cachedSource, resolveSecrets, secretsManagerSource, type ResolveOptions, type SecretSource } from './secrets.js';

export type Env = Record<string, string | undefined>;

export interface Runtime {
  config: FerryConfig;
  backend: AwsBackend;
  logger: Logger;
  metrics: LambdaMetrics;
}

export interface RuntimeOptions {
  /** Which secrets this function needs resolved. */
  needs: ResolveOptions;
  /** Logger name (the function). */
  name: string;
  env?: Env;
  secrets?: SecretSource;
}

/** The baked config: next to the bundle in Lambda, or FERRY_CONFIG_FILE (tests run from source). */
export function readRuntimeConfig(env: Env): FerryConfig {
  const override = env[ENV.configFile];
  const location = override ? override : new URL(`./${BAKED_CONFIG_FILE}`, import.meta.url);
  const text = readFileSync(location, 'utf8');
  return readBakedConfig(text, env, String(location));
}

let sharedSecrets: SecretSource | undefined;

export async function openRuntime(options: RuntimeOptions): Promise<Runtime> {
  const env = options.env ?? process.env;
  // The logger, the metrics emitter and the SQS/DynamoDB clients are imported here, on the
  // first invocation, not when the container loads the handler module: esbuild puts them in
  // chunks beside the entry (infra/aws/bundle.ts), so the init phase stays short.
  const [{ createLogger }, { EmfMetrics }, { openAwsBackend }] = await Promise.all([
    import('../../shared/observability/logger.js'),
    import('./emf-metrics.js'),
    import('../../shared/adapters/aws/index.js'),
  ]);
  const logger = createLogger({ name: `ferry-${options.name}` });
  const baked = readRuntimeConfig(env);
  const secrets = options.secrets ?? (sharedSecrets ??= cachedSource(secretsManagerSource()));
  const config = await resolveSecrets(baked, secrets, options.needs);
  const backend = await openAwsBackend(
    { region: config.aws!.region, queueUrl: config.aws!.queueUrl, deadLetterQueueUrl: config.aws!.deadLetterQueueUrl, table: config.aws!.table, createMissing: false },
    { maxAttempts: config.worker.maxAttempts },
  );
  return { config, backend, logger, metrics: new EmfMetrics(`ferry-${options.name}`) };
}

/**
 * Creates a value on first use and keeps it for the container's life. A failed creation
 * is forgotten, so the next invocation tries again instead of failing forever.
 */
export function lazy<T>(create: () => Promise<T>): { get(): Promise<T>; reset(): void } {
  let value: Promise<T> | undefined;
  return {
    get() {
      if (!value) {
        const created = create();
        value = created;
        created.catch(() => { if (value === created) value = undefined; });
      }
      return value;
    },
    reset() {
      value = undefined;
    },
  };
}
