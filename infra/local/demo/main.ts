// `npm start` without a ferry.yaml: two local Distribution registries, notifications
// wired to ferry's webhook, ferry serve in this process, and the commands to try it.
// Ctrl-C stops everything.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { loadConfig } from '../../../shared/config/load.js';
import { createLogger } from '../../../shared/observability/logger.js';
import { startHost, type Host } from '../serve/host.js';
import { startDistribution, type DistributionRegistry } from './distribution.js';
import { writeDemoImage } from './oci-layout.js';
import { ensureDistribution, hasCommand } from './prerequisites.js';

const say = (line = '') => process.stderr.write(line + '\n');

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const s = createServer();
    s.once('error', () => resolvePort(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolvePort(true)));
  });
}

/** The preferred port when free (stable, easy to type), else any free one. */
async function pickPort(preferred: number): Promise<number> {
  if (await portFree(preferred)) return preferred;
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

export async function runDemo(cwd = process.cwd()): Promise<number> {
  const pre = ensureDistribution(say);
  if (!pre.ok) {
    say(`ferry demo: ${pre.message}`);
    return 1;
  }
  // Under .ferry/ (ferry's default state dir, already git-ignored).
  const demoDir = resolve(cwd, '.ferry', 'demo');
  // A fresh state each run: the registries below start empty too.
  await rm(demoDir, { recursive: true, force: true });
  await mkdir(demoDir, { recursive: true });

  const ferryPort = await pickPort(8080);
  const srcPort = await pickPort(5000);
  const dstPort = await pickPort(srcPort === 5001 ? 5002 : 5001);
  const secret = randomBytes(18).toString('base64url');
  const adminToken = randomBytes(18).toString('base64url');

  const registries: DistributionRegistry[] = [];
  let host: Host | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    stopping ??= (async () => {
      say('\nstopping ferry and the demo registries ...');
      await host?.stop('demo stopped').catch(() => {});
      await Promise.all(registries.map((r) => r.stop().catch(() => {})));
    })();
    return stopping;
  };

  try {
    registries.push(await startDistribution({
      name: 'src',
      port: srcPort,
      baseDir: join(demoDir, 'registry-src'),
      logLevel: 'warn',
      notifications: [{
        name: 'ferry',
        url: `http://127.0.0.1:${ferryPort}/webhooks/src`,
        headers: { Authorization: [`Bearer ${secret}`] },
        ignoredActions: ['pull'],
      }],
    }));
    registries.push(await startDistribution({ name: 'dst', port: dstPort, baseDir: join(demoDir, 'registry-dst'), logLevel: 'warn' }));

    const template = await readFile(new URL('./ferry.demo.yaml', import.meta.url), 'utf8');
    const configText = template
      .replaceAll('__DATA_DIR__', join(demoDir, 'data'))
      .replaceAll('__SRC_URL__', `http://127.0.0.1:${srcPort}`)
      .replaceAll('__DST_URL__', `http://127.0.0.1:${dstPort}`)
      .replaceAll('__WEBHOOK_SECRET__', secret)
      .replaceAll('__ADMIN_TOKEN__', adminToken);
    const configPath = join(demoDir, 'ferry.yaml');
    await writeFile(configPath, configText, { mode: 0o600 });
    const config = await loadConfig(configPath);

    const image = await writeDemoImage(join(demoDir, 'hello-oci'), `hello from ferry (${new Date().toISOString()})`);

    host = await startHost({ config, listen: { host: '127.0.0.1', port: ferryPort }, logger: createLogger({ name: 'ferry' }) });
    process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
    process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));

    const rel = relative(cwd, configPath) || configPath;
    const layout = relative(cwd, image.dir) || image.dir;
    say('');
    say('ferry demo is running:');
    say(`  source registry       http://127.0.0.1:${srcPort}   (notifications -> ${host.url}/webhooks/src)`);
    say(`  destination registry  http://127.0.0.1:${dstPort}`);
    say(`  ferry                 ${host.url}   (config: ${rel}, admin token in it)`);
    say('');
    say('1. push a tiny image (generated in ' + layout + ') to the source:');
    say(`   skopeo copy --dest-tls-verify=false oci:${layout}:${image.tag} docker://127.0.0.1:${srcPort}/demo/hello:1`);
    say('2. see it replicated at the destination (same digest ' + image.digest.slice(0, 19) + '...):');
    say(`   skopeo inspect --tls-verify=false docker://127.0.0.1:${dstPort}/demo/hello:1`);
    say('3. look at the job:');
    say(`   npx ferry jobs --config ${rel}`);
    if (!hasCommand('skopeo')) say('   (skopeo is not installed: sudo apt-get install -y skopeo)');
    say('');
    say('Ctrl-C stops everything.');
    await new Promise<never>(() => {});
    return 0;
  } catch (err) {
    say(`ferry demo: ${(err as Error).message}`);
    await stopAll();
    return 1;
  }
}
