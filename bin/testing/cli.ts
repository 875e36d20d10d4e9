import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../server/testing/database';

export const ENCLAVE_BIN = path.resolve(import.meta.dirname, '..', 'enclave.mjs');

/** Runs `enclave ARGS` as a user would, in its own process; never throws on a non-zero exit. */
export function runEnclave(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [ENCLAVE_BIN, ...args], { reject: false, env: { LOG_LEVEL: 'warn', ...env } });
}

/**
 * For a test file of admin commands: a database and a data directory of its own, made before the file's
 * tests and removed after, and a `run` that points the command at them.
 */
export function useCliDatabase(label: string) {
  const state = {} as { t: TestDatabase; dataDir: string };
  beforeAll(async () => {
    state.t = await createTestDatabase(label);
    state.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `enclave-${label}-`));
  });
  afterAll(async () => {
    await state.t?.drop();
    if (state.dataDir) fs.rmSync(state.dataDir, { recursive: true, force: true });
  });
  return {
    get t() {
      return state.t;
    },
    get dataDir() {
      return state.dataDir;
    },
    run: (args: string[], extra: Record<string, string> = {}) =>
      runEnclave(args, { DATABASE_URL: state.t.url, ENCLAVE_DATA_DIR: state.dataDir, ...extra }),
  };
}
