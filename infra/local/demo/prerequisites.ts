// The demo needs Debian's CNCF Distribution registry. Install it when we are root (a
// fresh container), otherwise say exactly what to run.
import { spawnSync } from 'node:child_process';

export function hasCommand(name: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
  return r.status === 0;
}

export type PrerequisiteResult = { ok: true } | { ok: false; message: string };

export function ensureDistribution(log: (line: string) => void): PrerequisiteResult {
  if (hasCommand('docker-registry')) return { ok: true };
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !hasCommand('apt-get')) {
    return {
      ok: false,
      message: 'the demo needs the CNCF Distribution registry (binary docker-registry). Install it with:\n' +
        '  sudo apt-get install -y docker-registry\n' +
        '(and skopeo to push images: sudo apt-get install -y skopeo), then run npm start again.',
    };
  }
  log('installing docker-registry (apt-get install -y docker-registry) ...');
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'docker-registry'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) {
    // A fresh container often has no package lists yet.
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'docker-registry'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  if (r.status !== 0 || !hasCommand('docker-registry')) {
    return { ok: false, message: 'apt-get install -y docker-registry failed; install it by hand and run npm start again.' };
  }
  return { ok: true };
}
