import { defineConfig } from 'vitest/config';
import { TIMING_TESTS } from './vitest.config';

/**
 * Tests whose claim is a timing accuracy (the load generator holds 2 ms with 200 open streams): run
 * after the others, alone, since a neighbouring test file saturating both cores delays every timestamp
 * they take and says nothing about the code.
 */
export default defineConfig({
  test: {
    include: TIMING_TESTS,
    testTimeout: 240_000,
    maxWorkers: 1,
    pool: 'forks',
  },
});
