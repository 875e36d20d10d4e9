import { defineConfig } from 'vitest/config';

/** Browser tests: each file starts the real product once, so files run one after another. */
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    fileParallelism: false,
    pool: 'forks',
    maxWorkers: 1,
    // On CI a failing test gets one more try, and scripts/flaky-reporter.ts names every one that needed it.
    retry: process.env.CI ? 1 : 0,
    // The first start may build the UI (about a minute on two cores) and load the model.
    hookTimeout: 420_000,
    testTimeout: 120_000,
    // A page's data arrives after its first paint, and on a loaded two-core CI machine that can take seconds:
    // expect.poll's default of 1 s made waits for data flaky (a load-test run failed so on CI).
    expect: { poll: { timeout: 15_000 } },
  },
});
