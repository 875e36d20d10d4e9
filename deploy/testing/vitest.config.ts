import path from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * The deploy/ tests (Compose file, Helm chart, the template renderer) until the root vitest.config.ts
 * includes deploy/**: `npx vitest run --config deploy/testing/vitest.config.ts`.
 */
export default defineConfig({
  root: path.resolve(import.meta.dirname, '../..'),
  test: { include: ['deploy/**/*.test.ts'], testTimeout: 60_000, pool: 'forks', maxWorkers: 2 },
});
