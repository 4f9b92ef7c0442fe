// Reads ferry.yaml: YAML -> ${env:NAME} interpolation -> schema validation. Problems are
// reported together, one "<file>: <path>: <problem>" line each (cross-field checks such as
// "unknown registry" run once the fields they compare are themselves valid).
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { ConfigError, formatPath, type ConfigProblem } from './errors.js';
import { interpolateEnv, type Env } from './interpolate.js';
import { issueProblems } from './issues.js';
import { allowedKeysAt, configJsonSchema, type JsonSchema } from './json-schema.js';
import { scheduleProblems } from './schedule-check.js';
import { configSchema, type FerryConfig } from './schema.js';

export { ConfigError } from './errors.js';
export type { ConfigProblem } from './errors.js';
export { warnings } from './warnings.js';

export const DEFAULT_CONFIG_PATH = 'ferry.yaml';

/** `--config` when given, else FERRY_CONFIG (for hosts without a command line), else ./ferry.yaml. */
export function resolveConfigPath(flag?: string, env: Env = process.env): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env.FERRY_CONFIG;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_CONFIG_PATH;
}

export interface LoadOptions {
  /**
   * Leave unset ${env:...} references in registry credentials and webhook secrets as they
   * are instead of failing: for commands that never contact a registry (the admin CLI).
   */
  deferRegistrySecrets?: boolean;
}

/** registries.<name>.auth... and registries.<name>.webhook...: read only when that registry is contacted. */
function isRegistrySecretPath(path: readonly PropertyKey[]): boolean {
  return path[0] === 'registries' && path.length >= 3 && (path[2] === 'auth' || path[2] === 'webhook');
}

export async function loadConfig(path: string, env: Env = process.env, options: LoadOptions = {}): Promise<FerryConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found (pass --config PATH or create ferry.yaml; see ferry.example.yaml)' : `cannot read: ${(e as Error).message}`;
    throw new ConfigError(path, [{ message: why }]);
  }
  return parseConfigText(text, path, env, options);
}

let cachedJsonSchema: JsonSchema | undefined;

export function parseConfigText(text: string, file: string, env: Env = process.env, options: LoadOptions = {}): FerryConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((err): ConfigProblem => {
      const pos = err.linePos?.[0];
      const message = err.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
      return pos ? { path: `line ${pos.line}, column ${pos.col}`, message } : { message };
    }));
  }

  const raw: unknown = doc.toJS() ?? {};
  const { value, problems: allEnvProblems } = interpolateEnv(raw, env);
  const envProblems = options.deferRegistrySecrets ? allEnvProblems.filter((p) => !isRegistrySecretPath(p.path)) : allEnvProblems;
  const locate = locator(doc, lineCounter);
  if (envProblems.length > 0) {
    throw new ConfigError(file, located(envProblems, locate));
  }

  const result = configSchema.safeParse(value);
  const schedules = scheduleProblems(value);
  if (!result.success) {
    cachedJsonSchema ??= configJsonSchema();
    const schema = cachedJsonSchema;
    const problems = issueProblems(result.error.issues, (p) => allowedKeysAt(schema, p));
    throw new ConfigError(file, located([...problems, ...schedules], locate));
  }
  if (schedules.length > 0) throw new ConfigError(file, located(schedules, locate));
  return result.data;
}

/** Problems in document order, each with the line it concerns. */
function located(problems: ReadonlyArray<{ path: PropertyKey[]; message: string }>, locate: (path: readonly PropertyKey[]) => number | undefined): ConfigProblem[] {
  return problems
    .map((p, order) => ({ p, order, line: locate(p.path) }))
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || a.order - b.order)
    .map(({ p, line }) => ({ path: formatPath(p.path), message: line === undefined ? p.message : `${p.message} (line ${line})` }));
}

/** The line of the deepest node of the path that exists in the YAML document. */
function locator(doc: Document, lineCounter: LineCounter): (path: readonly PropertyKey[]) => number | undefined {
  return (path) => {
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && Array.isArray(node.range)) {
        return lineCounter.linePos(node.range[0]).line;
      }
    }
    return undefined;
  };
}
