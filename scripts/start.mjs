// `npm start`: with a ferry.yaml in the working directory, run `ferry serve` on it;
// without one, run the demo (two local registries replicating into each other).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const configPath = join(process.cwd(), 'ferry.yaml');

function run(args, cwd = process.cwd()) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', cwd });
    // The child gets Ctrl-C from the terminal itself; forward SIGTERM (e.g. from a supervisor).
    const forward = (signal) => () => child.kill(signal);
    const onTerm = forward('SIGTERM');
    const onInt = () => {};
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

if (existsSync(configPath)) {
  const cli = join(root, 'dist', 'cli.js');
  if (!existsSync(cli)) {
    const built = await run([join(root, 'scripts', 'build.mjs')], root);
    if (built !== 0) process.exit(built);
  }
  process.exit(await run([cli, 'serve', '--config', configPath]));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { runDemo } = await import(pathToFileURL(join(root, 'infra', 'local', 'demo', 'main.ts')).href);
  process.exitCode = await runDemo(process.cwd());
}
