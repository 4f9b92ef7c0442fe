// Bundles the CLI (and the Lambda handlers, when present) with esbuild so that
// `npx ferry` starts fast and never compiles TypeScript at run time.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const external = ['better-sqlite3', 'pino', 'thread-stream', 'pino-pretty'];
await build({
  entryPoints: { cli: 'infra/local/cli.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  external,
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __ferryCreateRequire } from 'node:module'; const require = __ferryCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
if (!existsSync('dist/cli.js')) throw new Error('build produced no dist/cli.js');
