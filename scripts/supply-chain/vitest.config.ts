import path from 'node:path';
import { defineConfig } from 'vitest/config';

/** The supply-chain scripts' tests, runnable alone: npx vitest run --config scripts/supply-chain/vitest.config.ts */
export default defineConfig({
  root: path.resolve(import.meta.dirname, '../..'),
  test: { include: ['scripts/supply-chain/**/*.test.ts'], testTimeout: 60_000 },
});
