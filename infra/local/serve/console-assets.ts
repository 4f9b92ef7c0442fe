// The console's static files (index.html, console.js, console.css), built by
// scripts/build.mjs into <outdir>/console and served from the package: no CDN, works
// offline. Found next to the running bundle (dist/chunks/.. -> dist/console) or, when
// running from source, in the repository's dist/console.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

export function findConsoleDir(explicit?: string): string | undefined {
  if (explicit) return existsSync(join(explicit, 'index.html')) ? explicit : undefined;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'console'), join(here, '..', 'console'), join(here, '..', '..', '..', 'dist', 'console')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

export interface ConsoleAsset {
  body: Buffer;
  type: string;
}

/** Reads one of the known files; anything else is undefined (no path from the URL reaches the disk). */
export async function consoleAsset(dir: string | undefined, name: string): Promise<ConsoleAsset | undefined> {
  const type = Object.hasOwn(TYPES, name) ? TYPES[name] : undefined;
  if (!dir || !type) return undefined;
  try {
    return { body: await readFile(join(dir, name)), type };
  } catch {
    return undefined;
  }
}
