// Loads ferry.yaml for a command; config problems are usage errors (exit 2) listed one per line.

import type { FerryConfig } from '../../../shared/config/schema.js';
import { ConfigError, loadConfig, resolveConfigPath, type LoadOptions } from '../../../shared/config/load.js';
import { CliError, EXIT_USAGE } from './output.js';

/** `path` from --config; else FERRY_CONFIG; else ./ferry.yaml. */
export async function loadCliConfig(path?: string, options: LoadOptions = {}): Promise<FerryConfig> {
  try {
    return await loadConfig(resolveConfigPath(path), process.env, options);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT_USAGE);
    throw error;
  }
}
