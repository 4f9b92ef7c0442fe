// ferry's version, as the bundlers define it (FERRY_VERSION); from package.json when run
// from source (tsx, tests).
import { readFileSync } from 'node:fs';

declare const FERRY_VERSION: string | undefined;

function fromPackageJson(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0-dev';
  } catch {
    return '0.0.0-dev';
  }
}

export const VERSION: string = typeof FERRY_VERSION === 'string' ? FERRY_VERSION : fromPackageJson();

/** Sent on every registry request. */
export const USER_AGENT = `ferry/${VERSION}`;
