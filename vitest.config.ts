import { configDefaults, defineConfig } from 'vitest/config';

/** Run alone afterwards (vitest.timing.config.ts): their assertions are timing accuracies. */
export const TIMING_TESTS = ['server/evaluation/loadtest/engine.test.ts'];

export default defineConfig({
  test: {
    exclude: [...configDefaults.exclude, ...TIMING_TESTS],
    include: ['server/**/*.test.ts', 'workers/**/*.test.ts', 'trainers/**/*.test.ts', 'bin/**/*.test.ts', 'bench/**/*.test.ts', 'app/**/*.test.ts', 'scripts/**/*.test.ts', 'deploy/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: engine processes and the database compete with test workers.
    maxWorkers: 2,
    pool: 'forks',
    // On CI a failing test gets one more try, and scripts/flaky-reporter.ts names every one that needed it.
    retry: process.env.CI ? 1 : 0,
  },
});
