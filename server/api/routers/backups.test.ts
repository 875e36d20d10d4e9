import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeDb } from '../../db/client';
import { auditLog } from '../../db/schema';
import { createBackup } from '../../operations/backup/create';
import { Conversations } from '../../chat/conversations';
import { Messages } from '../../chat/messages';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { until } from '../../testing/until';
import { startApiTestServer } from '../testing/api-test-server';

// The admin page's path: a drill started through the API runs after the commit, its row followed to the end.
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const masterKey = randomBytes(32);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-backups-api-'));

beforeAll(async () => {
  t = await createTestDatabase('backupsapi');
  // The drill runs on the process's own pool (db()), as in the web role.
  process.env.DATABASE_URL = t.url;
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: path.join(dir, 'data'), ENCLAVE_BACKUP_DIR: path.join(dir, 'backups') } });
}, 60_000);

afterAll(async () => {
  await api?.close();
  await closeDb();
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('an admin lists backups and runs a drill that ends passed, audited; bad input names the field; others are refused', async () => {
  const admin = await api.userSession('admin');
  const conv = await new Conversations(t.db, masterKey, admin.user.id).create({ title: 'drilled' });
  await new Messages(t.db, masterKey, admin.user.id).add({ conversationId: conv.id, parentId: null, role: 'user', content: 'hello' });
  const { id: backupId } = await createBackup({ db: t.db, env: api.env, masterKey });

  const listed = await api.trpc('query', 'backups.list', undefined, admin.cookie);
  expect(listed.status).toBe(200);
  expect(listed.data.backups.map((b: { id: string }) => b.id)).toEqual([backupId]);

  const bad = await api.trpc('mutation', 'backups.startDrill', { backupId: '../etc' }, admin.cookie);
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.data ?? bad)).toMatch(/backupId/);
  const missing = await api.trpc('mutation', 'backups.startDrill', { backupId: 'enclave-nope' }, admin.cookie);
  expect(missing.status).toBe(400);

  const user = await api.userSession('user');
  expect((await api.trpc('mutation', 'backups.startDrill', {}, user.cookie)).status).toBe(403);

  const started = await api.trpc('mutation', 'backups.startDrill', { backupId }, admin.cookie);
  expect(started.status).toBe(200);
  const drill = await until('the drill to end', async () => {
    const r = await api.trpc('query', 'backups.drill', { id: started.data.id }, admin.cookie);
    return r.data.status !== 'running' ? r.data : undefined;
  }, 30_000);
  expect(drill.error).toBeNull();
  expect(drill.status).toBe('passed');
  expect(drill.result.conversations).toMatchObject({ total: 1, decrypted: 1 });
  const audited = await t.db.select().from(auditLog).where(eq(auditLog.target, backupId));
  expect(audited.map((r) => [r.action, r.outcome])).toEqual([['backup.drill', 'success']]);
  const asked = await t.db.select().from(auditLog).where(eq(auditLog.action, 'backups.startDrill'));
  expect(asked.filter((r) => r.outcome === 'success')).toHaveLength(1);
}, 60_000);
