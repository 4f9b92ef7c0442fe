// Picks the backend the config names. The AWS adapter is imported lazily so the embedded
// path (the CLI, `ferry serve` on one machine) never loads the AWS SDK.
import type { FerryConfig } from '../config/schema.js';
import type { Backend, Clock } from '../jobs/ports.js';
import { openEmbeddedBackend } from './embedded/index.js';

export interface OpenBackendOptions {
  clock?: Clock;
  /** AWS only: explicit SQS / DynamoDB endpoints (emulators). */
  endpoints?: { sqs?: string; dynamodb?: string };
  /** Embedded only: a long-running process checkpoints its WAL from a background thread. */
  longRunning?: boolean;
}

export async function openBackend(config: FerryConfig, options: OpenBackendOptions = {}): Promise<Backend> {
  if (config.backend === 'aws') {
    if (!config.aws) throw new Error('backend: aws needs an aws section in the config');
    const { openAwsBackend } = await import('./aws/index.js');
    return openAwsBackend(config.aws, {
      maxAttempts: config.worker.maxAttempts,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.endpoints ? { endpoints: options.endpoints } : {}),
    });
  }
  return openEmbeddedBackend({
    dataDir: config.dataDir,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.longRunning ? { backgroundCheckpoints: true } : {}),
  });
}
