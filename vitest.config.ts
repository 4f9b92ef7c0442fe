import { defineConfig } from 'vitest/config';

// Integration tests start real registries and processes: give them room, and keep
// parallelism modest because CI machines have two cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
