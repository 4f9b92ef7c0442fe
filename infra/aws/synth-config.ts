// Which ferry.yaml the stack is synthesised from, and how it is read without the runtime
// environment: `--context config=PATH`, else FERRY_CONFIG, else ferry.yaml, else
// ferry.example.yaml (so `npm run synth` works in CI; `npm run deploy` refuses it).
// ${env:NAME} references that are unset at synth time resolve to a placeholder: they are
// secrets in practice, and plaintext secrets are refused by the stack (or, for the example
// only, left out).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseConfigText } from '../../shared/config/load.js';
import type { FerryConfig } from '../../shared/config/schema.js';

/** The example config of this checkout (absolute, so synth finds it from any directory). */
export const EXAMPLE_CONFIG_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../../ferry.example.yaml');

/** Context key `npm run deploy` sets: a deployment must come from a real config. */
export const DEPLOY_CONTEXT = 'ferry:deploy';

/** Whether `path` is the example config (which is synthesised for CI but never deployed). */
export function isExampleConfig(path: string): boolean {
  return resolve(path) === EXAMPLE_CONFIG_PATH;
}

/** Refuses the example config for a deployment, with what to do instead. */
export function deployGuardProblem(path: string, deploying: boolean): string | undefined {
  if (!deploying || !isExampleConfig(path)) return undefined;
  return `refusing to deploy the example config (${path}): create ferry.yaml, or pass --context config=PATH or FERRY_CONFIG=PATH`;
}

export interface SynthConfig {
  path: string;
  config: FerryConfig;
  /** Environment variables that were unset and replaced by a placeholder. */
  unsetVariables: string[];
}

export function synthConfigPath(contextValue: unknown, env: Record<string, string | undefined>, exists: (p: string) => boolean = existsSync): string {
  if (typeof contextValue === 'string' && contextValue !== '') return contextValue;
  const fromEnv = env.FERRY_CONFIG;
  if (fromEnv) return fromEnv;
  return exists('ferry.yaml') ? 'ferry.yaml' : EXAMPLE_CONFIG_PATH;
}

export function loadSynthConfig(path: string, env: Record<string, string | undefined> = process.env): SynthConfig {
  const unset = new Set<string>();
  const lenient = new Proxy(env, {
    get(target, name) {
      if (typeof name !== 'string') return undefined;
      const value = target[name];
      if (value !== undefined) return value;
      unset.add(name);
      return `unset-at-synth-${name}`;
    },
  });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(path, [{ message: code === 'ENOENT' ? 'file not found (pass --context config=PATH, set FERRY_CONFIG, or create ferry.yaml)' : `cannot read: ${(e as Error).message}` }]);
  }
  const config = parseConfigText(text, path, lenient);
  return { path, config, unsetVariables: [...unset] };
}
