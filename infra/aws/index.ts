// The `ferry/aws` package entry: build ferry's AWS deployment inside your own CDK app.
//
//   import { FerryReplication, ferryConfigFromFile } from 'ferry/aws';
//   new FerryReplication(this, 'Ferry', { config: ferryConfigFromFile('ferry.yaml'), vpc, encryptionKey });
//
// The config is validated by the same schema as everywhere else (ferry.schema.json), from
// a ferry.yaml path or from an object. The entry is TypeScript source: run the CDK app with
// tsx (as ferry's own cdk.json does) or another TypeScript loader.
import { stringify } from 'yaml';
import { parseConfigText } from '../../shared/config/load.js';
import type { FerryConfig, FerryConfigInput } from '../../shared/config/schema.js';
import { loadSynthConfig } from './synth-config.js';

export { FerryReplication, FerryStackConfigError, DEFAULT_WEBHOOK_CONCURRENCY, type FerryReplicationProps } from './construct.js';
export { FerryStack, type FerryStackProps } from './stack.js';
export { ConfigError } from '../../shared/config/load.js';
export type { FerryConfig, FerryConfigInput } from '../../shared/config/schema.js';

/**
 * Reads and validates a ferry.yaml. `${env:NAME}` references to unset variables become
 * placeholders (secrets belong in Secrets Manager on AWS; plaintext ones fail the stack).
 * Throws ConfigError listing every problem with its line.
 */
export function ferryConfigFromFile(path: string, env: Record<string, string | undefined> = process.env): FerryConfig {
  return loadSynthConfig(path, env).config;
}

/** Validates a config object written in code, exactly as if it were a ferry.yaml. */
export function ferryConfigFromObject(input: FerryConfigInput, source = 'ferry config object', env: Record<string, string | undefined> = process.env): FerryConfig {
  return parseConfigText(stringify(input), source, env);
}
