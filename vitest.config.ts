import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['server/**/*.test.ts', 'jobs/**/*.test.ts', 'bin/**/*.test.ts', 'bench/**/*.test.ts', 'app/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: engine processes and the database compete with test workers.
    maxWorkers: 2,
    pool: 'forks',
  },
});
