// `npm run build:lambda`: writes each handler bundle to dist/lambda/<name>/ (with the baked
// config of the synth-time ferry.yaml) and prints sizes, for inspection and cold-start
// measurements (`node -e "await import('./dist/lambda/webhook/index.mjs')"`).
import { join } from 'node:path';
import { bakeConfig } from '../../functions/lib/baked-config.js';
import { bundleHandlers, writeFunctionAsset } from './bundle.js';
import { loadSynthConfig, synthConfigPath } from './synth-config.js';

const { config, path } = loadSynthConfig(synthConfigPath(undefined, process.env));
const baked = bakeConfig(config);
for (const [name, bundle] of bundleHandlers()) {
  const dir = writeFunctionAsset(join('dist', 'lambda', name), bundle, baked.json);
  process.stdout.write(`${dir}/index.mjs  ${(bundle.code.length / 1024).toFixed(0)} KiB entry, ${(bundle.totalCodeBytes / 1024).toFixed(0)} KiB with chunks  (config ${path})\n`);
}
