import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseEnv } from '../core/env';
import { auditMonthName, auditMonths, ensureAuditPartitions } from '../db/audit-partitions';
import { createDb, type Db } from '../db/client';
import { migrateDatabase } from '../db/migrate';
import { auditLog, requestLogs } from '../db/schema';
import { createTestDatabase, TEST_PG_ADMIN_URL, type TestDatabase } from '../testing/database';
import { tamperWithAuditLog } from '../testing/audit-tamper';
import { makeUser } from '../testing/factories';
import { auditRowHash, GENESIS_HASH, writeAudit } from './audit';
import { checkpointAuditLog, verifyAudit, type AuditAnchors } from './audit-anchor';
import { archiveExpiredAuditMonths, checkManifest } from './audit-archive';
import { PARTITION_ARCHIVED } from './audit-chain-start';
import { auditV1Calls, V1_CALLS } from './audit-v1-calls';

const DAY = 86_400_000;
let t: TestDatabase;
let root: string;
let anchors: AuditAnchors;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('archive');
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-audit-archive-'));
});
afterAll(async () => {
  await t?.drop();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Each test: an empty log (old months dropped by hand) and folders of its own. */
beforeEach(async () => {
  for (const m of await auditMonths(t.db)) if (m.to.getTime() < Date.now() - 100 * DAY) await t.db.execute(sql.raw(`DROP TABLE "${m.name}"`));
  await tamperWithAuditLog(t.db, 'TRUNCATE audit_log RESTART IDENTITY');
  anchors = { file: path.join(fs.mkdtempSync(path.join(root, 'a-')), 'anchors.jsonl'), masterKey };
});

/** Rows written in the past, chained as writeAudit would (which always writes "now"), in that month's partition. */
async function writeOldRows(at: Date, n: number) {
  await t.db.execute(sql`SELECT enclave_audit_log_partition(${at.toISOString().slice(0, 10)}::date)`);
  const [last] = await t.db.select({ hash: auditLog.hash }).from(auditLog).orderBy(sql`id DESC`).limit(1);
  let prevHash = last?.hash ?? GENESIS_HASH;
  for (let i = 0; i < n; i++) {
    const f = { at: new Date(at.getTime() + i * 1000), actorUserId: null, actorLabel: 'old', action: 'test.old', target: `t${i}`, clientAddress: null, outcome: 'success' as const, detail: { i } };
    const hash = auditRowHash(prevHash, f);
    await t.db.insert(auditLog).values({ ...f, prevHash, hash });
    prevHash = hash;
  }
}

const settings = (dir = path.join(root, `archive-${randomBytes(3).toString('hex')}`)) => ({ dir, retentionDays: 180, anchorFile: anchors.file });

describe('audit retention in monthly partitions', () => {
  it('exports months past retention with their checkpoints and a manifest, then drops them; the chain still verifies', async () => {
    const now = new Date();
    const monthA = new Date(now.getTime() - 320 * DAY);
    const monthB = new Date(now.getTime() - 280 * DAY);
    await writeOldRows(monthA, 5);
    await writeOldRows(monthB, 4);
    // The anchor file's start is itself a row (#10, now).
    expect(await checkpointAuditLog(t.db, anchors)).toMatchObject({ written: { headId: 10, count: 10 } });
    await writeAudit(t.db, { action: 'test.recent', outcome: 'success' });
    expect(await checkpointAuditLog(t.db, anchors)).toMatchObject({ written: { headId: 11, count: 11 } });

    const s = settings();
    const result = await archiveExpiredAuditMonths(t.db, s, now);
    expect(result.ok).toBe(true);
    expect(result.archived.map((a) => [a.partition, a.fromId, a.toId, a.rows, a.archivedRowsTotal])).toEqual([
      [auditMonthName(monthA), 1, 5, 5, 5],
      [auditMonthName(monthB), 6, 9, 4, 9],
    ]);
    // Gone from PostgreSQL, kept on disk: every row, the checkpoint covering them, a manifest whose hashes hold.
    const names = (await auditMonths(t.db)).map((m) => m.name);
    expect(names).not.toContain(auditMonthName(monthA));
    expect(names).not.toContain(auditMonthName(monthB));
    const dirB = path.join(s.dir, auditMonthName(monthB));
    const manifest = checkManifest(path.join(dirB, 'manifest.json'), result.archived[1]!.manifestSha256);
    expect(manifest).toMatchObject({ rows: 4, fromId: 6, toId: 9, archivedRowsTotal: 9 });
    const rows = fs.readFileSync(path.join(dirB, 'rows.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.id)).toEqual([6, 7, 8, 9]);
    expect(rows[3].hash).toBe(manifest.lastHash);
    // The first checkpoint after the month counts its rows: it is copied beside them.
    expect(fs.readFileSync(path.join(dirB, 'anchors.jsonl'), 'utf8')).toContain('"headId":10');
    // The archive records are in the chain; the rest verifies from the archived hash, and the checkpoints
    // (taken before the drop) still match: their counts include the archived rows.
    const records = await t.db.select().from(auditLog).where(eq(auditLog.action, PARTITION_ARCHIVED));
    expect(records.map((r) => r.target)).toEqual([auditMonthName(monthA), auditMonthName(monthB)]);
    const v = await verifyAudit(t.db, anchors);
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ ok: true, rows: 4, firstId: 10, archivedRows: 9, archivedUpToId: 9, anchorsMatched: 2 });
    // A checkpoint after the drop counts the archived rows too, and the next verification agrees.
    expect(v.checkpointWritten).toMatchObject({ headId: 13, count: 13 });
    expect(await verifyAudit(t.db, anchors)).toMatchObject({ ok: true, anchorsMatched: 3 });
    // A month edited in the archive no longer matches what the chain recorded.
    fs.appendFileSync(path.join(dirB, 'rows.jsonl'), '{}\n');
    expect(() => checkManifest(path.join(dirB, 'manifest.json'), result.archived[1]!.manifestSha256)).toThrow(/differs from its manifest/);
  });

  it('keeps a month whose export fails, says so in the log and the chain, and archives it on the next run', async () => {
    const now = new Date();
    const month = new Date(now.getTime() - 300 * DAY);
    await writeOldRows(month, 3);
    const blocked = path.join(root, `blocked-${randomBytes(3).toString('hex')}`);
    fs.writeFileSync(blocked, 'a file where the archive folder should be');
    const failed = await archiveExpiredAuditMonths(t.db, settings(path.join(blocked, 'inside')), now);
    expect(failed).toMatchObject({ ok: false, partition: auditMonthName(month), archived: [] });
    expect((await auditMonths(t.db)).map((m) => m.name)).toContain(auditMonthName(month));
    expect(await t.db.$count(auditLog, eq(auditLog.action, 'test.old'))).toBe(3);
    const [failure] = await t.db.select().from(auditLog).where(eq(auditLog.action, PARTITION_ARCHIVED));
    expect(failure).toMatchObject({ outcome: 'failure', target: auditMonthName(month) });
    const retried = await archiveExpiredAuditMonths(t.db, settings(), now);
    expect(retried).toMatchObject({ ok: true, archived: [{ rows: 3 }] });
    expect(await verifyAudit(t.db, anchors)).toMatchObject({ ok: true, archivedRows: 3 });
  });

  it('never archives a month younger than the retention, nor below 180 days whatever is asked', async () => {
    const now = new Date();
    await writeOldRows(new Date(now.getTime() - 120 * DAY), 2);
    expect(await archiveExpiredAuditMonths(t.db, { ...settings(), retentionDays: 30 }, now)).toEqual({ ok: true, archived: [] });
    expect(() => parseEnv({ ENCLAVE_AUDIT_RETENTION_DAYS: '90' })).toThrow(/ENCLAVE_AUDIT_RETENTION_DAYS/);
    expect(parseEnv({}).ENCLAVE_AUDIT_RETENTION_DAYS).toBeGreaterThanOrEqual(180);
    // The owner's function refuses too, whoever calls it.
    const young = auditMonthName(new Date(now.getTime() - 120 * DAY));
    await expect(t.db.execute(sql`SELECT enclave_audit_log_drop_partition(${young})`)).rejects.toThrow();
  });

  it('reports rows removed from the start without an archive, and checks a time range on its own', async () => {
    const now = new Date();
    await writeOldRows(new Date(now.getTime() - 300 * DAY), 3);
    await writeOldRows(new Date(now.getTime() - 200 * DAY), 3);
    for (let i = 0; i < 3; i++) await writeAudit(t.db, { action: 'test.recent', outcome: 'success', detail: { i } });
    const range = await verifyAudit(t.db, anchors, { range: { from: new Date(now.getTime() - 250 * DAY), to: new Date(now.getTime() - 100 * DAY) } });
    expect(range).toMatchObject({ ok: true, rows: 3, firstId: 4, newestId: 6 });
    await tamperWithAuditLog(t.db, `UPDATE audit_log SET target = 'forged' WHERE id = 5`);
    const broken = await verifyAudit(t.db, anchors, { range: { from: new Date(now.getTime() - 250 * DAY) } });
    expect(broken.problems[0]).toMatchObject({ kind: 'chain-broken', rowId: 5 });
    expect(broken.problems[0]!.expected).toMatch(/^hash [0-9a-f]{64}$/);
    await tamperWithAuditLog(t.db, `UPDATE audit_log SET target = 't1' WHERE id = 5`);
    await tamperWithAuditLog(t.db, `DELETE FROM audit_log WHERE id <= 3`);
    const v = await verifyAudit(t.db, anchors);
    expect(v.ok).toBe(false);
    expect(v.problems.map((p) => [p.kind, p.rowId])).toEqual([['archive-missing', 4]]);
  });

  it('creates months ahead, and writes /v1 calls per key and hour once, without content', async () => {
    await ensureAuditPartitions(t.db, new Date('2031-05-10T00:00:00Z'), 2);
    const names = (await auditMonths(t.db)).map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['audit_log_203105', 'audit_log_203106', 'audit_log_203107']));
    const user = await makeUser(t.db);
    const keyId = (await t.db.execute<{ id: string }>(sql`INSERT INTO api_keys (name, user_id, prefix, key_hash) VALUES ('ci-bot', ${user.id}, 'sk-x', ${randomBytes(8).toString('hex')}) RETURNING id`)).rows[0]!.id;
    const now = new Date();
    const hour = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 2 * 3_600_000);
    const at = (min: number) => new Date(hour.getTime() + min * 60_000);
    await t.db.insert(requestLogs).values([
      { createdAt: at(1), apiKeyId: keyId, userId: user.id, model: 'qwen', status: 200, e2eMs: 100, overheadMs: 1, promptTokens: 10, completionTokens: 5 },
      { createdAt: at(2), apiKeyId: keyId, userId: user.id, model: 'llama', status: 200, e2eMs: 100, overheadMs: 1, promptTokens: 7, completionTokens: 3 },
      { createdAt: at(3), apiKeyId: keyId, userId: user.id, model: 'qwen', status: 503, e2eMs: 100, overheadMs: 1 },
      { createdAt: at(4), apiKeyId: null, userId: user.id, model: 'qwen', status: 200, e2eMs: 100, overheadMs: 1 },
    ]);
    const first = await auditV1Calls(t.db, now);
    expect(first.rows).toBe(1);
    const rows = await t.db.select().from(auditLog).where(eq(auditLog.action, V1_CALLS));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actorUserId: user.id,
      actorLabel: 'ci-bot',
      target: keyId,
      outcome: 'success',
      detail: { hour: hour.toISOString(), requests: 3, errors: 1, status: { '2xx': 2, '4xx': 0, '5xx': 1 }, models: ['llama', 'qwen'], promptTokens: 17, completionTokens: 8 },
    });
    expect(await auditV1Calls(t.db, now)).toEqual({ hours: [], rows: 0 });
    expect(await t.db.$count(auditLog, eq(auditLog.action, V1_CALLS))).toBe(1);
  });
});

/** The app as a login role that owns nothing (as in db/app-role.test.ts): the partitions give it no new power. */
describe('the app role and the partitioned audit log', () => {
  const suffix = randomBytes(4).toString('hex');
  const ownerRole = `enclave_test_aowner_${suffix}`;
  const appRole = `enclave_test_aapp_${suffix}`;
  const database = `enclave_test_aroles_${suffix}`;
  const urlAs = (role: string) => Object.assign(new URL(TEST_PG_ADMIN_URL), { username: role, pathname: `/${database}` }).toString();
  const asAdmin = async (statement: string) => {
    const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
    await admin.connect();
    await admin.query(statement).finally(() => admin.end());
  };
  let app: Db;

  beforeAll(async () => {
    await asAdmin(`CREATE ROLE ${ownerRole} LOGIN`);
    await asAdmin(`CREATE ROLE ${appRole} LOGIN`);
    await asAdmin(`CREATE DATABASE ${database} OWNER ${ownerRole}`);
    app = createDb(urlAs(appRole), 3);
    await migrateDatabase(app, urlAs(ownerRole));
  });
  afterAll(async () => {
    await app?.$client.end();
    await asAdmin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await asAdmin(`DROP ROLE IF EXISTS ${appRole}`);
    await asAdmin(`DROP ROLE IF EXISTS ${ownerRole}`);
  });

  const refusal = (p: Promise<unknown>) => p.then(() => 'no error', (e) => String(e.cause?.message ?? e.message));

  it('may read and append, through the table and never around it; cannot update, delete, truncate or drop a month', async () => {
    await writeAudit(app, { action: 'test.row', outcome: 'success' });
    expect(await app.$count(auditLog)).toBe(1);
    const month = auditMonthName(new Date());
    await ensureAuditPartitions(app, new Date(), 4);
    // A later start re-grants: months created since by the worker are covered as well.
    await migrateDatabase(app, urlAs(ownerRole));
    expect(await refusal(app.execute(sql`UPDATE audit_log SET target = 'x'`))).toMatch(/permission denied/);
    expect(await refusal(app.execute(sql`DELETE FROM audit_log`))).toMatch(/permission denied/);
    expect(await refusal(app.execute(sql`TRUNCATE audit_log`))).toMatch(/permission denied/);
    for (const statement of [`UPDATE ${month} SET target = 'x'`, `DELETE FROM ${month}`, `TRUNCATE ${month}`, `SELECT * FROM ${month}`, `DROP TABLE ${month}`, `ALTER TABLE audit_log DETACH PARTITION ${month}`]) {
      expect(await refusal(app.execute(sql.raw(statement))), statement).toMatch(/permission denied|must be owner/);
    }
    expect(await refusal(app.execute(sql`SELECT enclave_audit_log_drop_partition(${month})`))).toMatch(/younger than 180 days/);
    expect(await app.$count(auditLog)).toBe(1);
  });
});
