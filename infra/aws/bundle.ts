// Bundles the Lambda handlers with the local esbuild (no Docker): one self-contained ESM
// file per function, AWS SDK included so the deployed code is exactly what was tested.
// Bundling is config-independent, so it runs once per process and stacks reuse it.
import { buildSync, type OutputFile } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BAKED_CONFIG_FILE } from '../../functions/lib/baked-config.js';

export const HANDLERS = ['webhook', 'worker', 'admin', 'reconcile'] as const;
export type HandlerName = (typeof HANDLERS)[number];

/** The file Lambda loads; `.mjs` makes Node treat it as ESM without a package.json. */
export const BUNDLE_FILE = 'index.mjs';
export const LAMBDA_HANDLER = 'index.handler';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface HandlerBundle {
  name: HandlerName;
  code: Uint8Array;
  sourceMap: Uint8Array;
  /** sha256 of the code, so asset hashes change exactly when the code does. */
  hash: string;
}

let cache: Map<HandlerName, HandlerBundle> | undefined;

export function bundleHandlers(): Map<HandlerName, HandlerBundle> {
  if (cache) return cache;
  const out = new Map<HandlerName, HandlerBundle>();
  for (const name of HANDLERS) out.set(name, bundleOne(name));
  cache = out;
  return out;
}

function bundleOne(name: HandlerName): HandlerBundle {
  const result = buildSync({
    entryPoints: [join(ROOT, 'functions', `${name}.ts`)],
    outfile: join(ROOT, 'dist', 'lambda', name, BUNDLE_FILE),
    write: false,
    bundle: true,
    platform: 'node',
    // Node 20 syntax: the deployed runtime is newer, and tests import the same bundle on Node 20.
    target: 'node20',
    format: 'esm',
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    // Native addons and the local-only SQLite host never belong in a Lambda bundle.
    external: ['better-sqlite3'],
    // ESM output still meets CommonJS dependencies that call require() for node builtins.
    banner: { js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = find(result.outputFiles, BUNDLE_FILE, name);
  const sourceMap = find(result.outputFiles, `${BUNDLE_FILE}.map`, name);
  return { name, code, sourceMap, hash: createHash('sha256').update(code).digest('hex') };
}

function find(files: OutputFile[], suffix: string, name: string): Uint8Array {
  const file = files.find((f) => f.path.endsWith(`/${suffix}`));
  if (!file) throw new Error(`esbuild produced no ${suffix} for the ${name} handler`);
  return file.contents;
}

/** Writes one function's asset directory: the bundle, its source map and the baked config. */
export function writeFunctionAsset(dir: string, bundle: HandlerBundle, configJson: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, BUNDLE_FILE), bundle.code);
  writeFileSync(join(dir, `${BUNDLE_FILE}.map`), bundle.sourceMap);
  writeFileSync(join(dir, BAKED_CONFIG_FILE), configJson);
  return dir;
}
