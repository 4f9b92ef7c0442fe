// Vitest global setup: the tests run real programs (Distribution registries, skopeo, htpasswd,
// openssl, tinyproxy, chromium, DynamoDB Local on Java 17). On a fresh Debian machine
// `npm ci && npm test` is the whole set-up: as root this installs what is missing with
// apt-get; otherwise it stops at once with the exact command to run.
import { spawnSync } from 'node:child_process';

/** Command the tests run -> the Debian package that provides it. */
export const REQUIRED_COMMANDS: ReadonlyArray<readonly [command: string, debianPackage: string]> = [
  ['docker-registry', 'docker-registry'],
  ['skopeo', 'skopeo'],
  ['htpasswd', 'apache2-utils'],
  ['openssl', 'openssl'],
  ['ps', 'procps'],
  ['tinyproxy', 'tinyproxy'],
  ['chromium', 'chromium'],
  ['java', 'openjdk-17-jre-headless'],
];

export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** The packages to install, in table order, each once. */
export function missingPackages(has: (command: string) => boolean = hasCommand): string[] {
  return [...new Set(REQUIRED_COMMANDS.filter(([command]) => !has(command)).map(([, pkg]) => pkg))];
}

export function installCommand(packages: readonly string[]): string {
  return `apt-get update && apt-get install -y ${packages.join(' ')}`;
}

function apt(args: string[]): boolean {
  const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
}

export default function setup(): void {
  const missing = missingPackages();
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !hasCommand('apt-get')) {
    throw new Error(`the tests need Debian packages that are not installed: ${missing.join(', ')}.\nInstall them, then run npm test again:\n  sudo sh -c '${installCommand(missing)}'`);
  }
  process.stderr.write(`npm test: installing ${missing.join(' ')} (apt-get, as root) ...\n`);
  if (!apt(['update', '-qq']) || !apt(['install', '-y', '-qq', ...missing])) {
    throw new Error(`installing the test prerequisites failed; run by hand: ${installCommand(missing)}`);
  }
  const still = missingPackages();
  if (still.length > 0) throw new Error(`still missing after apt-get install: ${still.join(', ')}`);
}
