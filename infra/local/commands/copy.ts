// `ferry copy SRC DST`: placeholder until the copy engine lands.
import type { Command } from 'commander';
export function register(program: Command): void {
  program.command('copy').description('Copy an image (all platforms) from one registry to another.').argument('<src>').argument('<dst>');
}
