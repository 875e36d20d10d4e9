import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLogPowers } from '../db/app-role';
import { parseEnv } from '../core/env';
import { writeAudit } from '../security/audit';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { prepareInfrastructure } from './infrastructure';

let t: TestDatabase;
const dirs: string[] = [];
function tempDir(mode = 0o700) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-infra-'));
  fs.chmodSync(dir, mode);
  dirs.push(dir);
  return dir;
}
beforeAll(async () => {
  t = await createTestDatabase('infra');
});
afterAll(async () => {
  await t?.drop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** What the process wrote to stderr (where the structured log goes) while `fn` ran. */
async function stderrOf<T>(fn: () => Promise<T>): Promise<{ value: T; text: string }> {
  const chunks: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    chunks.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), text: chunks.join('') };
  } finally {
    process.stderr.write = write;
  }
}

describe('start-up', () => {
  it('warns while the master key lives in the data directory and while the app could erase audit rows', async () => {
    const dataDir = tempDir();
    const env = parseEnv({ DATABASE_URL: t.url, ENCLAVE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    const started = await stderrOf(() => prepareInfrastructure(env, { redis: false }));
    await started.value.close();
    expect(started.value.masterKeySource).toEqual({ source: 'data directory', file: path.join(dataDir, 'master.key') });
    expect(started.text).toMatch(/"level":"warn","msg":"The master key is in .*master.key, inside the data directory: a copy or backup of that directory opens every stored message/);
    expect(started.text).toMatch(/"msg":"The app connects to PostgreSQL as postgres, which is a superuser: it could erase audit rows/);

    // An admin command keeps its output clean.
    const quiet = await stderrOf(() => prepareInfrastructure(env, { redis: false, warnings: false }));
    await quiet.value.close();
    expect(quiet.text).toBe('');

    const keyFile = path.join(tempDir(), 'master.key');
    fs.writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    const moved = await stderrOf(() => prepareInfrastructure({ ...env, ENCLAVE_MASTER_KEY_FILE: keyFile }, { redis: false }));
    await moved.value.close();
    expect(moved.value.masterKeySource).toEqual({ source: 'ENCLAVE_MASTER_KEY_FILE', file: keyFile });
    expect(moved.text).not.toMatch(/master key/);
  });

  it('stops before touching any database when the key command fails', async () => {
    const dataDir = tempDir(0o711);
    const env = parseEnv({ ENCLAVE_DATA_DIR: dataDir, ENCLAVE_MASTER_KEY_COMMAND: JSON.stringify([process.execPath, '-e', 'process.exit(5)']) });
    await expect(prepareInfrastructure(env, { redis: false })).rejects.toThrow(/^ENCLAVE_MASTER_KEY_COMMAND failed with exit code 5/);
    expect(fs.existsSync(path.join(dataDir, 'postgres'))).toBe(false);
    await expect(prepareInfrastructure(parseEnv({ DATABASE_OWNER_URL: t.url, ENCLAVE_DATA_DIR: dataDir }), { redis: false })).rejects.toThrow(
      /DATABASE_OWNER_URL is set without DATABASE_URL/,
    );
  });

  it('runs the app as a role that owns nothing on the embedded PostgreSQL, with migrations as its superuser', async () => {
    // The embedded server runs as the `postgres` user: the data directory must be reachable by it.
    const dataDir = tempDir(0o711);
    const env = parseEnv({ ENCLAVE_DATA_DIR: dataDir, ENCLAVE_MASTER_KEY: randomBytes(32).toString('hex') });
    const started = await stderrOf(() => prepareInfrastructure(env, { redis: false }));
    const infra = started.value;
    try {
      expect(infra.embeddedDatabase).toBe(true);
      expect(await auditLogPowers(infra.db)).toEqual({ role: 'enclave_app', powers: [] });
      expect(started.text).not.toMatch(/could erase audit rows/);
      await writeAudit(infra.db, { action: 'test.embedded', outcome: 'success' });
      const denied = await infra.db.execute(sql`TRUNCATE audit_log`).then(() => '', (e) => String(e.cause?.message ?? e.message));
      expect(denied).toMatch(/permission denied for table audit_log/);
      // An admin command run while it runs finds the same server and the same role.
      const admin = await prepareInfrastructure(env, { redis: false, warnings: false });
      expect(await auditLogPowers(admin.db)).toEqual({ role: 'enclave_app', powers: [] });
      await admin.close();
    } finally {
      await infra.close();
    }
  }, 180_000);
});
