// Bundles the CLI (and the Lambda handlers, when present) with esbuild so that
// `npx ferry` starts fast and never compiles TypeScript at run time.
// Commands still `await import()` their heavy parts (AWS SDK, SQLite, the server): in the
// bundle those modules run only when a command imports them, so `ferry --help` never does.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
// `--outdir=DIR` builds elsewhere (tests build their own copy instead of racing on dist/).
const outdir = process.argv.find((a) => a.startsWith('--outdir='))?.slice('--outdir='.length) ?? 'dist';
// The native SQLite addon, and pino's transport worker pieces (ferry logs to a stream, never
// through a transport; those resolve files beside themselves). pino itself is bundled: loaded
// from node_modules it cost `ferry sync` ~10 ms before its first request (resolving and
// compiling a dozen files the code cache cannot hold).
const external = ['better-sqlite3', 'thread-stream', 'pino-pretty'];

const buildStarted = Date.now();
// The CLI is one CommonJS file that dist/cli.js (infra/local/cli-boot.ts) compiles with a V8
// code cache: what Node 20 can cache (vm.Script), unlike ES modules. Everything loads from that
// one file, so commands pay no module resolution; code is compiled lazily, per function, on
// first use, and the cache makes that a one-time cost per command.
await build({
  entryPoints: { ferry: 'infra/local/cli.ts' },
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  // Smaller to read and hash at every start; names kept for errors and logs.
  minify: true,
  keepNames: true,
  external,
  define: { FERRY_VERSION: JSON.stringify(pkg.version), 'import.meta.url': '__ferryImportMetaUrl' },
  // The module's own URL, for code that finds files beside it (package.json, console assets).
  banner: { js: "const __ferryImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  // Licence comments of bundled packages go to ferry.cjs.LEGAL.txt, keeping the bundle ASCII.
  legalComments: 'external',
  logLevel: 'warning',
});
// dist/cli.js reads the bundle as latin1 (the fastest decoding): any other byte would be misread.
if (readFileSync(`${outdir}/ferry.cjs`).some((byte) => byte > 0x7f)) throw new Error(`${outdir}/ferry.cjs is not ASCII; dist/cli.js cannot read it as latin1`);
const bundleHash = createHash('sha256').update(readFileSync(`${outdir}/ferry.cjs`)).digest('hex').slice(0, 16);
await build({
  entryPoints: { cli: 'infra/local/cli-boot.ts' },
  define: { FERRY_BUNDLE_HASH: JSON.stringify(bundleHash) },
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
if (!existsSync(`${outdir}/cli.js`)) throw new Error(`build produced no ${outdir}/cli.js`);
// The console (`ferry serve` at /): preact + htm, bundled and minified into <outdir>/console,
// served from the package (no CDN).
await build({
  entryPoints: { console: 'infra/local/console/main.ts' },
  outdir: `${outdir}/console`,
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'esm',
  minify: true,
  logLevel: 'warning',
});
mkdirSync(`${outdir}/console`, { recursive: true });
for (const file of ['index.html', 'console.css']) copyFileSync(`infra/local/console/${file}`, `${outdir}/console/${file}`);
chmodSync(`${outdir}/cli.js`, 0o755);
// Earlier builds split the CLI into chunks/ that a running `ferry serve` may still import
// lazily: removed once no build has written them for ten minutes.
const chunkDir = `${outdir}/chunks`;
for (const name of existsSync(chunkDir) ? readdirSync(chunkDir) : []) {
  const file = `${chunkDir}/${name}`;
  if (statSync(file).mtimeMs < buildStarted - 10 * 60_000) rmSync(file, { force: true });
}
rmSync(`${outdir}/cli.js.map`, { force: true });
