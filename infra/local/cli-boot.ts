// dist/cli.js: starts the CLI bundle (dist/ferry.cjs) with a V8 code cache. Compiling the
// bundle's code is most of a short command's start-up (about 150 ms of a `ferry sync` on a
// 2-core machine before its first request); Node 20 has no compile cache of its own for
// this (module.enableCompileCache arrived in Node 22). The cache holds the compiled code of
// every function a run of that command used, written once per build, command and Node
// version into a private directory of the user's cache (docs/architecture.md, "Start-up").
// Kept to Node built-ins: it runs before anything else is loaded.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import vm from 'node:vm';

// V8 accepts a code cache only when made under the same flags. The registry transport puts
// llhttp on the baseline WebAssembly tier at run time (shared/registry/transport.ts), so the
// flag is set here first: compiling and caching then see the same flags in every run.
setFlagsFromString('--liftoff-only');

const bundle = join(dirname(fileURLToPath(import.meta.url)), 'ferry.cjs');
// esbuild writes ASCII only (non-ASCII characters escaped), which latin1 decodes fastest.
const source = readFileSync(bundle, 'latin1');

/** A private per-user directory (never a shared one: a planted cache file would be run as code), or undefined. */
function cacheDirectory(): string | undefined {
  const setting = process.env.FERRY_COMPILE_CACHE;
  if (setting === '0' || setting === 'false') return undefined;
  try {
    const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
    const dir = join(base, 'ferry', 'compile');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stat = statSync(dir);
    const uid = process.getuid?.();
    if ((uid !== undefined && stat.uid !== uid) || (stat.mode & 0o022) !== 0) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

const dir = cacheDirectory();
// One cache per command: each runs different code (and `copy` under other V8 flags, bin/ferry).
const command = /^[a-z][a-z-]{0,30}$/.test(process.argv[2] ?? '') ? process.argv[2] : 'ferry';
/** The bundle's content hash, written here by scripts/build.mjs: a cache never outlives its code. */
declare const FERRY_BUNDLE_HASH: string;
// Per install as well: V8 gives functions from a cache the file name they were compiled under,
// so a cache shared by two copies of one build would show the other copy's path in stacks.
const install = `${(stableHash(bundle) >>> 0).toString(16)}-`;
const prefix = `${install}${FERRY_BUNDLE_HASH}-`;
const stem = `${prefix}${process.version}-${process.arch}-${command}-`;
/** Cache files nobody has written for this long belong to installs that are gone. */
const ABANDONED_MS = 7 * 24 * 3600_000;

/** FNV-1a: a short stable name for a path (no crypto module to load for it). */
function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}

/**
 * A cache file is named after the CPU milliseconds of the run that wrote it: a run that works
 * much longer (a copy of 5 layers after a copy of an absent tag) has compiled code the cache
 * lacks, and replaces it. A cache made from a cache keeps what it was given, so it only grows.
 */
let cached: { cpuMs: number; data: Buffer } | undefined;
if (dir) {
  try {
    const name = readdirSync(dir).find((n) => n.startsWith(stem) && n.endsWith('.bin'));
    if (name) cached = { cpuMs: Number(name.slice(stem.length, -'.bin'.length)) || 0, data: readFileSync(join(dir, name)) };
  } catch {
    // No cache yet for this command and build.
  }
}

const script = new vm.Script(Module.wrap(source), {
  filename: bundle,
  ...(cached ? { cachedData: cached.data } : {}),
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});

if (dir) {
  const usable = cached !== undefined && !script.cachedDataRejected;
  process.once('exit', () => {
    const { user, system } = process.cpuUsage();
    const cpuMs = Math.round((user + system) / 1000);
    if (usable && cpuMs < 2 * cached!.cpuMs + 100) return;
    try {
      // At exit the cache also holds the functions compiled lazily while the command ran.
      const file = join(dir, `${stem}${cpuMs}.bin`);
      const temporary = `${file}.${process.pid}`;
      writeFileSync(temporary, script.createCachedData(), { mode: 0o600 });
      renameSync(temporary, file);
      // The cache replaced, this install's earlier builds' and abandoned ones are never read again.
      const now = Date.now();
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (path === file) continue;
        const stale = name.startsWith(stem) || (name.startsWith(install) && !name.startsWith(prefix));
        if (stale || now - statSync(path).mtimeMs > ABANDONED_MS) rmSync(path, { force: true });
      }
    } catch {
      // The next run compiles again; nothing else depends on the cache.
    }
  });
}

const wrapper = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
const loaded = { exports: {} };
wrapper.call(loaded.exports, loaded.exports, createRequire(bundle), loaded, bundle, dirname(bundle));
