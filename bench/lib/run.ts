// How every benchmark ends: a one-line failure on stderr, exit code 1, and no registry left running.
import { stopAllRegistries } from '../../test/testbed/registries.js';

export async function runBench(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    await stopAllRegistries();
  }
}
