// Bundles the CLI (and the Lambda handlers, when present) with esbuild so that
// `npx ferry` starts fast and never compiles TypeScript at run time.
// Code splitting keeps `ferry --help` small: commands `await import()` their heavy parts
// (AWS SDK, SQLite, the server), which land in separate chunks loaded only when used.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
// `--outdir=DIR` builds elsewhere (tests build their own copy instead of racing on dist/).
const outdir = process.argv.find((a) => a.startsWith('--outdir='))?.slice('--outdir='.length) ?? 'dist';
const external = ['better-sqlite3', 'pino', 'thread-stream', 'pino-pretty'];

const buildStarted = Date.now();
await build({
  entryPoints: { cli: 'infra/local/cli.ts' },
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  // Smaller to parse at every start (~10 ms of a CLI run); names kept for errors and logs.
  minify: true,
  keepNames: true,
  external,
  define: { FERRY_VERSION: JSON.stringify(pkg.version) },
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __ferryCreateRequire } from 'node:module'; const require = __ferryCreateRequire(import.meta.url);",
  },
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
// Chunks are content-hashed, so old ones pile up. Remove only those no build has written for
// ten minutes: a CLI process started from the previous build may still import its chunks lazily.
const chunkDir = `${outdir}/chunks`;
for (const name of existsSync(chunkDir) ? readdirSync(chunkDir) : []) {
  const file = `${chunkDir}/${name}`;
  if (statSync(file).mtimeMs < buildStarted - 10 * 60_000) rmSync(file, { force: true });
}
