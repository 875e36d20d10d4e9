import { defineConfig } from 'vitest/config';

/** Browser tests: each file starts the real product once, so files run one after another. */
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    fileParallelism: false,
    pool: 'forks',
    maxWorkers: 1,
    // The first start may build the UI (about a minute on two cores) and load the model.
    hookTimeout: 420_000,
    testTimeout: 120_000,
  },
});
