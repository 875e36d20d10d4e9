import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Db } from '../../db/client';
import { auditLog, conversations, messages } from '../../db/schema';
import { verifyAuditChain, writeAudit } from '../../security/audit';
import { Conversations } from '../../chat/conversations';
import { Messages } from '../../chat/messages';
import { createEmptyTestDatabase, createTestDatabase, TEST_PG_ADMIN_URL, type TestDatabase } from '../../testing/database';
import { makeUser } from '../../testing/factories';
import { createBackup } from './create';
import { runDrill } from './drill';
import { removeKeysFromBackups } from './keyring';
import { partFile, peekManifest, writeManifest } from './manifest';
import { restoreBackup } from './restore';
import { codeSchemaVersion, migrateTo } from './schema-version';
import { runMaintenance } from '../../../workers/maintenance';
import { listBackups } from './list';
import { until } from '../../testing/until';

// The daily task reads the process's configuration: its own backup folder, keeping two.
const dailyDir = path.join(os.tmpdir(), `enclave-daily-${randomBytes(4).toString('hex')}`);
process.env.ENCLAVE_BACKUP_DIR = dailyDir;
process.env.ENCLAVE_BACKUP_KEEP = '2';
process.env.ENCLAVE_DATA_DIR = path.join(dailyDir, 'data');

// Real PostgreSQL, real sealed messages through the chat's own classes, real files: backup → wipe → restore.
let src: TestDatabase;
const masterKey = randomBytes(32);
const env = { ENCLAVE_BACKUP_KEY_FILE: undefined, ENCLAVE_BACKUP_DIR: undefined, ENCLAVE_MASTER_KEY_FILE: undefined, ENCLAVE_AUDIT_ANCHOR_DIR: undefined };
let work: string;
let dataDir: string;
let backups: string;
const seeded: { userA: string; userB: string; convA: string; convB: string; texts: Record<string, string> } = { userA: '', userB: '', convA: '', convB: '', texts: {} };
let datasetBytes: Buffer;

const emptyDatabase = (label: string) => createEmptyTestDatabase(label, 4);

beforeAll(async () => {
  src = await createTestDatabase('backup');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-backup-test-'));
  dataDir = path.join(work, 'data');
  backups = path.join(work, 'backups');
  fs.mkdirSync(path.join(dataDir, 'datasets'), { recursive: true });
  fs.mkdirSync(path.join(dataDir, 'logs'), { recursive: true });
  // Larger than one 1 MiB chunk, so chunking and reassembly are exercised.
  datasetBytes = randomBytes(2_500_000);
  fs.writeFileSync(path.join(dataDir, 'datasets', 'd1.sealed'), datasetBytes);
  fs.writeFileSync(path.join(dataDir, 'logs', 'replica.log'), 'started\n');
  fs.writeFileSync(path.join(dataDir, 'master.key'), masterKey.toString('hex'), { mode: 0o600 });

  const a = await makeUser(src.db, { email: 'a@example.org' });
  const b = await makeUser(src.db, { email: 'b@example.org' });
  seeded.userA = a.id;
  seeded.userB = b.id;
  for (const [user, key] of [
    [a.id, 'convA'],
    [b.id, 'convB'],
  ] as const) {
    const conv = await new Conversations(src.db, masterKey, user).create({ title: `Title of ${key}` });
    const m = new Messages(src.db, masterKey, user);
    const first = await m.add({ conversationId: conv.id, parentId: null, role: 'user', content: `Secret question in ${key}` });
    await m.add({ conversationId: conv.id, parentId: first.id, role: 'assistant', content: `Answer in ${key}` });
    seeded[key] = conv.id;
  }
  for (let i = 0; i < 5; i++) await writeAudit(src.db, { action: 'test.seed', target: `row-${i}`, outcome: 'success', detail: { i } });
  // A request log row lands in a daily partition: partitions must come back.
  // Request log rows land in daily partitions (today's, and one 40 days ago, which falls into the default partition).
  await src.db.execute(sql`INSERT INTO request_logs (model, status, e2e_ms, overhead_ms, created_at) VALUES ('m', 200, 12.5, 0.25, now()), ('m', 500, 3, 0.5, now() - interval '40 days')`);
}, 60_000);

afterAll(async () => {
  await src?.drop();
  fs.rmSync(work, { recursive: true, force: true });
  fs.rmSync(dailyDir, { recursive: true, force: true });
});

async function restoreInto(backupDir: string, label: string) {
  const target = await emptyDatabase(label);
  const targetDir = path.join(work, `restored-${label}`);
  fs.mkdirSync(targetDir, { recursive: true });
  return { target, targetDir, run: () => restoreBackup({ backupDir, db: target.db, dataDir: targetDir, env, masterKey }) };
}

let firstBackup: string;

test('backup → wipe → restore: every conversation decrypts, the audit chain verifies, files are identical, the master key is not in it', async () => {
  const { dir, manifest } = await createBackup({ db: src.db, env: { ...env, dataDir }, masterKey, to: backups });
  firstBackup = dir;
  expect(manifest.schema).toEqual(codeSchemaVersion());
  expect(manifest.files.map((f) => f.path).sort()).toEqual(['datasets/d1.sealed', 'logs/replica.log']);
  expect(manifest.tables.find((t) => t.table === 'data_keys')).toBeUndefined();
  expect(manifest.keyring.keys).toBeGreaterThanOrEqual(2);
  expect(manifest.tables.find((t) => t.table === 'audit_log')!.rows).toBe(5);
  // Nothing readable on disk: not a title, not the dataset's bytes.
  for (const name of fs.readdirSync(path.join(dir, 'parts'))) {
    const bytes = fs.readFileSync(path.join(dir, 'parts', name));
    expect(bytes.includes(Buffer.from('Secret question'))).toBe(false);
    expect(bytes.includes(datasetBytes.subarray(0, 64))).toBe(false);
  }

  // The wipe: the source database dropped, the data directory emptied.
  const auditBefore = await src.db.select().from(auditLog).orderBy(auditLog.id);
  const { target, targetDir, run } = await restoreInto(dir, 'restore');
  try {
    const report = await run();
    expect(report.tables.every((t) => t.match)).toBe(true);
    for (const [user, key] of [
      [seeded.userA, 'convA'],
      [seeded.userB, 'convB'],
    ] as const) {
      const c = new Conversations(target.db, masterKey, user);
      expect(await c.title(await c.require(seeded[key]))).toBe(`Title of ${key}`);
      const list = await new Messages(target.db, masterKey, user).list(seeded[key]);
      expect(list.map((m) => m.content)).toEqual([`Secret question in ${key}`, `Answer in ${key}`]);
    }
    expect((await verifyAuditChain(target.db)).ok).toBe(true);
    expect((await target.db.select().from(auditLog).orderBy(auditLog.id)).map((r) => r.hash)).toEqual(auditBefore.map((r) => r.hash));
    // Partitions come back with their bounds and their own TRUNCATE refusal (audit_log months).
    const partitions = (db: Db) =>
      db.execute<{ name: string; bound: string; own: string[] | null }>(sql`
        SELECT ch.relname AS name, pg_get_expr(ch.relpartbound, ch.oid) AS bound,
               (SELECT array_agg(t.tgname::text ORDER BY t.tgname) FROM pg_trigger t WHERE t.tgrelid = ch.oid AND NOT t.tgisinternal AND t.tgparentid = 0) AS own
          FROM pg_inherits i JOIN pg_class ch ON ch.oid = i.inhrelid JOIN pg_class pa ON pa.oid = i.inhparent
         WHERE pa.relname IN ('audit_log', 'request_logs') ORDER BY 1`);
    const restoredParts = (await partitions(target.db)).rows;
    for (const p of (await partitions(src.db)).rows) expect(restoredParts).toContainEqual(p);
    const rl = await target.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM request_logs`);
    expect(rl.rows[0]!.n).toBe(2);
    expect(fs.readFileSync(path.join(targetDir, 'datasets', 'd1.sealed')).equals(datasetBytes)).toBe(true);
    expect(fs.existsSync(path.join(targetDir, 'master.key'))).toBe(false);
    // The append-only trigger came back with the schema.
    await expect(target.db.execute(sql`DELETE FROM audit_log`)).rejects.toThrow();
    // Sequences continue after the restored rows: a new conversation and audit row insert cleanly.
    await new Conversations(target.db, masterKey, seeded.userA).create({ title: 'after' });
    await writeAudit(target.db, { action: 'test.after', outcome: 'success' });
    expect((await verifyAuditChain(target.db)).ok).toBe(true);
    // A second restore into the now non-empty database is refused.
    await expect(run()).rejects.toThrow(/not empty/);
  } finally {
    await target.drop();
  }
}, 60_000);

test("the app role's limited grant survives a restore: rows of every table, but on audit_log only SELECT and INSERT", async () => {
  const role = `enclave_bk_app_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE ROLE "${role}" LOGIN`);
  const target = await emptyDatabase('grants');
  const targetDir = path.join(work, 'restored-grants');
  try {
    await restoreBackup({ backupDir: firstBackup, db: target.db, appRole: role, dataDir: targetDir, env, masterKey });
    const can = async (table: string, privilege: string) =>
      (await target.db.execute<{ ok: boolean }>(sql`SELECT has_table_privilege(${role}, ${table}, ${privilege}) AS ok`)).rows[0]!.ok;
    expect(await can('audit_log', 'INSERT')).toBe(true);
    expect(await can('audit_log', 'SELECT')).toBe(true);
    for (const p of ['UPDATE', 'DELETE', 'TRUNCATE']) expect(await can('audit_log', p)).toBe(false);
    expect(await can('messages', 'DELETE')).toBe(true);
  } finally {
    await target.drop();
    await admin.query(`DROP ROLE IF EXISTS "${role}"`);
    await admin.end();
  }
}, 60_000);

test('a wrong key, a tampered part, a newer schema and a non-empty data directory are refused, naming why', async () => {
  const copy = (label: string) => {
    const dir = path.join(work, `copy-${label}`);
    fs.cpSync(firstBackup, dir, { recursive: true });
    return dir;
  };
  const { target, targetDir } = await restoreInto(firstBackup, 'refusals');
  const attempt = (backupDir: string, over: Partial<Parameters<typeof restoreBackup>[0]> = {}) =>
    restoreBackup({ backupDir, db: target.db, dataDir: targetDir, env, masterKey, ...over });
  try {
    await expect(attempt(firstBackup, { masterKey: randomBytes(32) })).rejects.toThrow(/manifest.*wrong key/);

    const tampered = copy('tampered');
    const m = peekManifest(tampered);
    const part = m.tables.find((t) => t.table === 'messages')!.part;
    const file = partFile(tampered, part);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    await expect(attempt(tampered)).rejects.toThrow(new RegExp(`part ${part}: table messages`));

    const edited = copy('edited');
    const em = peekManifest(edited);
    fs.writeFileSync(path.join(edited, 'manifest.json'), JSON.stringify({ ...em, createdAt: '2000-01-01T00:00:00.000Z' }));
    await expect(attempt(edited)).rejects.toThrow(/manifest.*does not authenticate/);

    const newer = copy('newer');
    const nm = peekManifest(newer);
    const { backupKey } = await import('./backup-key');
    writeManifest(newer, { ...nm, schema: { when: nm.schema.when + 1, tag: '9999_future' } }, backupKey(env, masterKey).key);
    await expect(attempt(newer)).rejects.toThrow(new RegExp(`newer schema \\(9999_future\\) than this code's migrations \\(${codeSchemaVersion().tag}\\)`));

    fs.writeFileSync(path.join(targetDir, 'stray.txt'), 'x');
    await expect(attempt(firstBackup)).rejects.toThrow(/data directory .* is not empty \(stray.txt/);
    // Nothing was written to the database by any refusal.
    expect((await target.db.execute(sql`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).rows[0]).toEqual({ n: 0 });
  } finally {
    await target.drop();
  }
}, 60_000);

test('the drill reports a match, and detects a corrupted copy', async () => {
  const phases: string[] = [];
  const report = await runDrill({ backupDir: firstBackup, serverUrl: src.url, env, masterKey, onProgress: (p) => phases.push(p) });
  expect(report.error).toBeUndefined();
  expect(report.ok).toBe(true);
  expect(report.conversations).toMatchObject({ total: 2, decrypted: 2, failed: 0, shredded: 0, messages: 4 });
  expect(report.audit.ok).toBe(true);
  expect(report.files).toMatchObject({ count: 2, match: true });
  expect(phases).toContain('decrypting conversations');

  const corrupted = path.join(work, 'copy-corrupted');
  fs.cpSync(firstBackup, corrupted, { recursive: true });
  const part = peekManifest(corrupted).files.find((f) => f.path === 'datasets/d1.sealed')!.part;
  fs.appendFileSync(partFile(corrupted, part), Buffer.from([1]));
  const bad = await runDrill({ backupDir: corrupted, serverUrl: src.url, env, masterKey });
  expect(bad.ok).toBe(false);
  expect(bad.error).toMatch(new RegExp(`part ${part}: file datasets/d1.sealed`));
  // The scratch databases are gone (waited for: another test file's drill may be running on this server now).
  await until('no scratch database left', async () => {
    const left = await src.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_database WHERE datname LIKE 'enclave_drill_%'`);
    return left.rows[0]!.n === 0;
  }, 30_000);
}, 60_000);

test('removeKeysFromBackups: content under a removed key no longer decrypts from any backup, other content does', async () => {
  const keyA = (await src.db.select({ k: messages.dataKeyId }).from(messages).where(eq(messages.conversationId, seeded.convA)))[0]!.k;
  const keyB = (await src.db.select({ k: messages.dataKeyId }).from(messages).where(eq(messages.conversationId, seeded.convB)))[0]!.k;
  expect(keyA).not.toBe(keyB);
  const second = await createBackup({ db: src.db, env: { ...env, dataDir }, masterKey, to: backups });
  const result = await removeKeysFromBackups([keyA], { env: { ...env, ENCLAVE_BACKUP_DIR: backups, dataDir } as never, masterKey });
  expect(result).toEqual({ backups: 2, keysRemoved: 2 });
  // Idempotent.
  expect(await removeKeysFromBackups([keyA], { env: { ...env, ENCLAVE_BACKUP_DIR: backups, dataDir } as never, masterKey })).toEqual({ backups: 2, keysRemoved: 0 });
  expect(peekManifest(second.dir).keyring.removedKeyIds).toEqual([keyA]);
  expect(fs.readdirSync(path.join(second.dir, 'parts')).filter((n) => n.startsWith('keyring'))).toEqual(['keyring-2.enc']);

  const { target, run } = await restoreInto(second.dir, 'shred');
  try {
    const report = await run();
    expect(report.shreddedKeys).toBe(1);
    await expect(new Messages(target.db, masterKey, seeded.userA).list(seeded.convA)).rejects.toThrow();
    const b = await new Messages(target.db, masterKey, seeded.userB).list(seeded.convB);
    expect(b.map((m) => m.content)).toEqual(['Secret question in convB', 'Answer in convB']);
    expect((await target.db.select().from(conversations)).length).toBe(2);
  } finally {
    await target.drop();
  }
  const drill = await runDrill({ backupDir: second.dir, serverUrl: src.url, env, masterKey });
  expect(drill.conversations).toMatchObject({ total: 2, decrypted: 1, shredded: 1, failed: 0 });
  expect(drill.ok).toBe(true);
  // A backup written after the erasure leaves the key out from the start.
  const third = await createBackup({ db: src.db, env: { ...env, dataDir }, masterKey, to: backups });
  expect(third.manifest.keyring.removedKeyIds).toEqual([keyA]);
}, 60_000);

test('the daily maintenance task writes a backup, keeps ENCLAVE_BACKUP_KEEP of them and audits each', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await runMaintenance(src.db, { task: 'backup' }, { masterKey })).backup!.id);
  const listed = await listBackups({ ENCLAVE_BACKUP_DIR: dailyDir, dataDir: '/nonexistent' });
  expect(listed.backups.map((b) => b.id)).toEqual([ids[2], ids[1]]);
  expect(listed.backups[0]!.schema).toBe(codeSchemaVersion().tag);
  const audited = await src.db.select().from(auditLog).where(eq(auditLog.action, 'backup.create'));
  expect(audited.map((r) => [r.target, r.outcome, r.actorLabel])).toEqual(ids.map((id) => [id, 'success', 'maintenance']));
  expect(audited[2]!.detail).toMatchObject({ pruned: [ids[0]] });
}, 60_000);

test('a backup from an older schema is restored at its version, then carried forward by the later migrations', async () => {
  const old = await emptyDatabase('older');
  const oldDir = path.join(work, 'older-data');
  fs.mkdirSync(oldDir);
  try {
    // 0017_oidc_accounts: before classification, retention, audit partitions and backups.
    await migrateTo(old.db, 1796520984861);
    await old.db.execute(sql`INSERT INTO users (email, role, password_hash) VALUES ('old@example.org', 'user', 'x')`);
    await old.db.execute(sql`INSERT INTO audit_log (action, outcome, prev_hash, hash) VALUES ('test.old', 'success', 'g', 'h')`);
    const { dir, manifest } = await createBackup({ db: old.db, env: { ...env, dataDir: oldDir }, masterKey, to: path.join(work, 'older-backups') });
    expect(manifest.schema.tag).toBe('0017_oidc_accounts');
    const { target, run } = await restoreInto(dir, 'older');
    try {
      const report = await run();
      expect(report.schema).toEqual({ backup: '0017_oidc_accounts', code: codeSchemaVersion().tag });
      const users = await target.db.execute<{ email: string }>(sql`SELECT email FROM users`);
      expect(users.rows).toEqual([{ email: 'old@example.org' }]);
      const applied = await target.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
      const journal = JSON.parse(fs.readFileSync(path.join(__dirname, '../../db/migrations/meta/_journal.json'), 'utf8')) as { entries: unknown[] };
      expect(applied.rows[0]!.n).toBe(journal.entries.length);
      // The later migrations ran over the restored rows (audit_log is partitioned by month since 0020).
      const audit = await target.db.execute<{ action: string }>(sql`SELECT action FROM audit_log`);
      expect(audit.rows).toEqual([{ action: 'test.old' }]);
    } finally {
      await target.drop();
    }
  } finally {
    await old.drop();
  }
}, 60_000);
