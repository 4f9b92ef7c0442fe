// Shared CLI output and error handling: tables for people, JSON for machines, and one
// place that turns any thrown error into a one-line message and an exit code.

/** Exit codes every ferry command uses. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** An error meant for the user: printed as `ferry: <message>`, exits with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
  }
}

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  align?: 'left' | 'right';
}

/** A column is a row key (header = key) or a full column description. */
export type ColumnSpec<T> = (keyof T & string) | Column<T>;

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export async function formatTable<T>(rows: readonly T[], columns: readonly ColumnSpec<T>[]): Promise<string> {
  // Loaded on first use: most commands print no table, and every command pays for what it loads.
  const { default: Table } = await import('cli-table3');
  const specs: Column<T>[] = columns.map((c) => (typeof c === 'string' ? { header: c, value: (row: T) => row[c as keyof T] } : c));
  const table = new Table({
    head: specs.map((c) => c.header),
    colAligns: specs.map((c) => c.align ?? 'left'),
    // Plain ASCII borders and no colours: tables get piped, grepped and pasted into tickets.
    style: { head: [], border: [], compact: true },
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '',
      right: '', 'right-mid': '', middle: '  ',
    },
  });
  for (const row of rows) table.push(specs.map((c) => cell(c.value(row))));
  // cli-table3 pads the first column with one space; drop it so output starts at column 0.
  return table
    .toString()
    .split('\n')
    .map((line) => line.replace(/^ /, '').trimEnd())
    .join('\n');
}

export async function printTable<T>(rows: readonly T[], columns: readonly ColumnSpec<T>[], out: NodeJS.WritableStream = process.stdout): Promise<void> {
  out.write((await formatTable(rows, columns)) + '\n');
}

/** Stable machine output: one JSON document on stdout. */
export function printJson(value: unknown, out: NodeJS.WritableStream = process.stdout): void {
  out.write(JSON.stringify(value, null, 2) + '\n');
}

const USAGE_ERROR_NAMES = new Set(['ConfigError', 'ReferenceSyntaxError', 'UsageError', 'CatalogUnavailableError']);

/** The exit code an error maps to: CliError says; config and reference errors are usage errors (2). */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof Error && USAGE_ERROR_NAMES.has(error.name)) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** The message without stack; multi-line messages (config problems) keep one problem per line. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const message = error.message || error.name;
    // Wrapping errors (fetch's "fetch failed", ferry's network errors) keep the detail in `cause`.
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.message && !message.includes(cause.message)) return `${message}: ${cause.message}`;
    return message;
  }
  return String(error);
}

/** Prints `ferry: <message>` per line to stderr (stack only with FERRY_DEBUG=1). */
export function reportError(error: unknown, err: NodeJS.WritableStream = process.stderr): void {
  const message = messageOf(error);
  // Only errors written for people (config problems, CliError) may span lines; anything else
  // (OpenSSL, sockets) is folded so each failure stays one greppable line.
  const multiLine = error instanceof CliError || (error instanceof Error && error.name === 'ConfigError');
  const lines = (multiLine ? message.split('\n') : [message.replace(/\s*\n\s*/g, ' ')]).filter((l) => l.trim() !== '');
  for (const line of lines.length > 0 ? lines : ['unknown error']) err.write(`ferry: ${line}\n`);
  if (process.env.FERRY_DEBUG === '1' && error instanceof Error && error.stack) err.write(`${error.stack}\n`);
}

/**
 * Wraps a commander action: errors print as `ferry: <message>` and exit with their code.
 * Success returns normally so long-running commands (serve) decide when the process ends.
 */
export function runAction<A extends unknown[]>(action: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      reportError(error);
      process.exit(exitCodeOf(error));
    }
  };
}
