// Who holds a message or a key lease: host, pid and the process's start time (so a reused
// pid is not mistaken for the process that died). A restarted `ferry serve` uses it to
// release what a killed process on the same host still held, instead of waiting for the
// visibility timeout; a live process (a second `ferry serve` on the same data) is left alone.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessIdentity {
  host: string;
  pid: number;
  /** Start time in clock ticks since boot (Linux /proc); '' where unknown. */
  start: string;
}

/** /proc/<pid>/stat field 22 (starttime); '' when it cannot be read. */
function startTimeOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? '';
  } catch {
    return '';
  }
}

let self: string | undefined;

/** This process, encoded for embedding in receipts and lease owners (no '.', ':' or '@'). */
export function selfIdentity(): string {
  self ??= encodeIdentity({ host: hostname(), pid: process.pid, start: startTimeOf(process.pid) });
  return self;
}

export function encodeIdentity(id: ProcessIdentity): string {
  return Buffer.from(JSON.stringify([id.host, id.pid, id.start])).toString('base64url');
}

export function decodeIdentity(text: string): ProcessIdentity | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(v) && typeof v[0] === 'string' && Number.isSafeInteger(v[1]) && typeof v[2] === 'string') {
      return { host: v[0], pid: v[1] as number, start: v[2] };
    }
  } catch { /* not an identity */ }
  return undefined;
}

/**
 * True only when the identity names a process on this host that is certainly gone: its
 * pid does not exist, or exists with another start time (reused). Unknown means alive.
 */
export function isDeadHere(id: ProcessIdentity): boolean {
  if (id.host !== hostname() || id.pid === process.pid) return false;
  try {
    process.kill(id.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const start = startTimeOf(id.pid);
  return id.start !== '' && start !== '' && start !== id.start;
}

/** Lease owners end in `@<identity>`; receipts in `~<identity>`. */
export function identityAfter(text: string, marker: '@' | '~'): ProcessIdentity | undefined {
  const i = text.lastIndexOf(marker);
  return i < 0 ? undefined : decodeIdentity(text.slice(i + 1));
}
