import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { writeAudit } from '../security/audit';
import { auditPage } from '../security/audit-query';
import { auditAnchors, verifyAudit } from '../security/audit-anchor';
import { TEST_PG_ADMIN_URL } from '../testing/database';
import { auditLogPowers, auditLogPowersWarning } from './app-role';
import { createDb, type Db } from './client';
import { migrateDatabase } from './migrate';
import { ensureRequestLogPartitions } from './partitions';
import { auditLog, requestLogs } from './schema';

/**
 * The app as a login role that owns nothing: a real owner role and app role in the test's PostgreSQL,
 * migrations through the owner, everything else through the app role.
 */
const suffix = randomBytes(4).toString('hex');
const ownerRole = `enclave_test_owner_${suffix}`;
const appRole = `enclave_test_app_${suffix}`;
const database = `enclave_test_roles_${suffix}`;

function urlAs(role: string, db = database) {
  const url = new URL(TEST_PG_ADMIN_URL);
  url.username = role;
  url.pathname = `/${db}`;
  return url.toString();
}

async function asAdmin(statement: string) {
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(statement);
  } finally {
    await admin.end();
  }
}

let app: Db;
let owner: Db;
let superuser: Db;
const masterKey = randomBytes(32);
const anchorDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-roles-anchors-'));

beforeAll(async () => {
  await asAdmin(`CREATE ROLE ${ownerRole} LOGIN`);
  await asAdmin(`CREATE ROLE ${appRole} LOGIN`);
  await asAdmin(`CREATE DATABASE ${database} OWNER ${ownerRole}`);
  app = createDb(urlAs(appRole), 5);
  owner = createDb(urlAs(ownerRole), 2);
  superuser = createDb(urlAs(new URL(TEST_PG_ADMIN_URL).username || 'postgres'), 2);
  await migrateDatabase(app, urlAs(ownerRole));
});

afterAll(async () => {
  await Promise.all([app, owner, superuser].map((db) => db?.$client.end()));
  await asAdmin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await asAdmin(`DROP ROLE IF EXISTS ${appRole}`);
  await asAdmin(`DROP ROLE IF EXISTS ${ownerRole}`);
  fs.rmSync(anchorDir, { recursive: true, force: true });
});

const refusal = (p: Promise<unknown>) => p.then(() => 'no error', (e) => String(e.cause?.message ?? e.message));

describe('the app under a role that owns nothing', () => {
  it('gets its tables from migrations the owner ran, and no power over audit_log', async () => {
    const tables = await superuser.execute<{ tableowner: string }>(sql`SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'`);
    expect(tables.rows.map((r) => r.tableowner)).toEqual([ownerRole]);
    expect(await auditLogPowers(app)).toEqual({ role: appRole, powers: [] });
    expect(auditLogPowersWarning(await auditLogPowers(app))).toBeUndefined();
    // Migrating again (the next start) is harmless and grants tables a new migration would add.
    await migrateDatabase(app, urlAs(ownerRole));
    expect(await auditLogPowers(app)).toEqual({ role: appRole, powers: [] });
  });

  it('writes, lists, verifies and checkpoints the audit log, and adds request_logs partitions', async () => {
    await writeAudit(app, { action: 'test.alone', outcome: 'success' });
    // Inside a caller's transaction, as mutations write it.
    await app.transaction(async (tx) => {
      await tx.insert(requestLogs).values({ model: 'm', status: 200, e2eMs: 1, overheadMs: 0.1 });
      await writeAudit(tx, { action: 'test.in-transaction', outcome: 'success' });
    });
    expect((await auditPage(app, undefined, { limit: 10 })).map((r) => r.action)).toEqual(['test.in-transaction', 'test.alone']);
    const anchors = auditAnchors({ dataDir: anchorDir, ENCLAVE_AUDIT_ANCHOR_DIR: anchorDir }, masterKey);
    expect(await verifyAudit(app, anchors)).toMatchObject({ ok: true, rows: 2, checkpointWritten: { headId: 3, count: 3 } });
    expect(await verifyAudit(app, anchors)).toMatchObject({ ok: true, anchorsMatched: 1 });

    // Only the owner may create a partition; the app reaches it through the owner's function.
    const later = new Date(Date.now() + 40 * 86_400_000);
    const name = `request_logs_${later.toISOString().slice(0, 10).replaceAll('-', '')}`;
    await ensureRequestLogPartitions(app, later, 0);
    const found = await app.execute<{ r: string | null }>(sql`SELECT to_regclass(${name})::text AS r`);
    expect(found.rows[0]!.r).toBe(name);
  });

  it('is refused UPDATE, DELETE and TRUNCATE on audit_log, and switching its trigger off', async () => {
    const [row] = await app.select().from(auditLog).limit(1);
    expect(await refusal(app.update(auditLog).set({ target: 'x' }).where(eq(auditLog.id, row!.id)))).toMatch(/permission denied for table audit_log/);
    expect(await refusal(app.delete(auditLog).where(eq(auditLog.id, row!.id)))).toMatch(/permission denied for table audit_log/);
    expect(await refusal(app.execute(sql`TRUNCATE audit_log`))).toMatch(/permission denied for table audit_log/);
    expect(await refusal(app.execute(sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`))).toMatch(/must be owner of table audit_log/);
    expect(await refusal(app.execute(sql`DROP TRIGGER audit_log_no_truncate ON audit_log`))).toMatch(/must be owner of (table|relation) audit_log/);
    // Even the owner must switch the trigger off first to empty the log (and the checkpoints see that).
    expect(await refusal(owner.execute(sql`TRUNCATE audit_log`))).toMatch(/append-only/);
  });

  it('serves the API: a mutation and its audit row, and audit.verify', async () => {
    const api = await startApiTestServer({ db: app, masterKey });
    try {
      const { cookie } = await api.userSession('admin');
      const created = await api.trpc('mutation', 'users.create', { email: `new-${suffix}@example.test`, password: 'a long enough password', role: 'viewer' }, cookie);
      expect(created.status).toBe(200);
      const rows = await app.select().from(auditLog).where(eq(auditLog.action, 'users.create'));
      expect(rows).toHaveLength(1);
      expect(rows[0]!.outcome).toBe('success');
      const verified = await api.trpc('query', 'audit.verify', undefined, cookie);
      expect(verified.data).toMatchObject({ ok: true, problems: [] });
    } finally {
      await api.close();
    }
  });

  it('warns when the app connects as a superuser', async () => {
    const powers = await auditLogPowers(superuser);
    expect(powers.powers).toEqual(['is a superuser']);
    expect(auditLogPowersWarning(powers)).toMatch(/which is a superuser: it could erase audit rows .*Set DATABASE_OWNER_URL/);
    const asOwner = await auditLogPowers(owner);
    expect(asOwner.powers[0]).toMatch(/owns audit_log/);
  });

  it('refuses an owner URL that names another database', async () => {
    await expect(migrateDatabase(app, urlAs(ownerRole, 'postgres'))).rejects.toThrow(
      new RegExp(`DATABASE_OWNER_URL reaches database postgres but DATABASE_URL reaches ${database}`),
    );
  });
});
