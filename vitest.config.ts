import { defineConfig } from 'vitest/config';

// Integration tests start real registries and processes: give them room, and keep
// parallelism modest because CI machines have two cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Installs the Debian packages the tests run (as root), or names the command to run.
    globalSetup: ['test/setup/system-packages.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
