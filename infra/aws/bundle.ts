// Bundles the Lambda handlers with the local esbuild (no Docker): one self-contained ESM
// entry file per function, AWS SDK included so the deployed code is exactly what was
// tested. Code splitting puts what the handlers import dynamically (the SQS/DynamoDB
// backend, the Secrets Manager client) into chunk files beside the entry, loaded on first
// use rather than while the container starts. Bundling is config-independent, so it runs
// once per process and stacks reuse it.
import { buildSync, type OutputFile } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
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
  /** The entry file (BUNDLE_FILE): what Lambda imports at start. */
  code: Uint8Array;
  /** Every file of the asset (entry, chunks, source maps), by file name. */
  files: Map<string, Uint8Array>;
  /** Bytes of JavaScript in the asset: the entry plus every chunk. */
  totalCodeBytes: number;
  /** Source files with code in any output file (paths relative to the repository). */
  inputs: string[];
  /** Source files with code in the entry file. */
  entryInputs: string[];
  /** sha256 of all files, so asset hashes change exactly when the code does. */
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

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

function bundleOne(name: HandlerName): HandlerBundle {
  const result = buildSync({
    entryPoints: [join(ROOT, 'functions', `${name}.ts`)],
    outdir: join(ROOT, 'dist', 'lambda', name),
    entryNames: 'index',
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    metafile: true,
    write: false,
    bundle: true,
    platform: 'node',
    // The version registry requests carry in their User-Agent (shared/version.ts).
    define: { FERRY_VERSION: JSON.stringify(packageVersion()) },
    // Node 20 syntax: the deployed runtime is newer, and tests import the same bundle on Node 20.
    target: 'node20',
    format: 'esm',
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    // The ES module builds of dependencies that ship both (the AWS SDK among them): esbuild
    // drops what ferry never calls from those, not from CommonJS ones, and the SDK's
    // chunks shrink by a quarter (bench/README.md, Lambda bundles).
    mainFields: ['module', 'main'],
    // Native addons and the local-only SQLite host never belong in a Lambda bundle; bowser
    // is the SDK's browser user-agent parser, imported only where `window` exists.
    external: ['better-sqlite3', 'bowser'],
    // ESM output still meets CommonJS dependencies that call require() for node builtins.
    banner: { js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'silent',
  });
  const files = new Map<string, Uint8Array>(result.outputFiles.map((f: OutputFile) => [basename(f.path), f.contents]));
  const code = files.get(BUNDLE_FILE);
  if (!code) throw new Error(`esbuild produced no ${BUNDLE_FILE} for the ${name} handler`);
  const hash = createHash('sha256');
  let totalCodeBytes = 0;
  for (const [file, contents] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(file).update('\0').update(contents).update('\0');
    if (file.endsWith('.mjs')) totalCodeBytes += contents.length;
  }
  const used = (outputs: Array<(typeof result.metafile.outputs)[string]>): string[] =>
    [...new Set(outputs.flatMap((o) => Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0).map(([path]) => path)))];
  const outputs = Object.entries(result.metafile.outputs).filter(([path]) => path.endsWith('.mjs'));
  const inputs = used(outputs.map(([, o]) => o));
  const entryInputs = used(outputs.filter(([path]) => basename(path) === BUNDLE_FILE).map(([, o]) => o));
  return { name, code, files, totalCodeBytes, inputs, entryInputs, hash: hash.digest('hex') };
}

/** Writes one function's asset directory: the entry, its chunks, source maps and the baked config. */
export function writeFunctionAsset(dir: string, bundle: HandlerBundle, configJson: string): string {
  mkdirSync(dir, { recursive: true });
  for (const [file, contents] of bundle.files) writeFileSync(join(dir, file), contents);
  writeFileSync(join(dir, BAKED_CONFIG_FILE), configJson);
  return dir;
}
