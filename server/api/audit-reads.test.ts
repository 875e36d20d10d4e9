import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Conversations } from '../chat/conversations';
import { auditLog } from '../db/schema';
import { createSession } from '../security/sessions';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeDataset, makeUser } from '../testing/factories';
import { startApiTestServer } from './testing/api-test-server';

/** Reads of other people's data and exports leave audit rows naming who, what and whose. */
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const masterKey = randomBytes(32);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-audit-reads-'));

beforeAll(async () => {
  t = await createTestDatabase('auditreads');
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: dataDir } });
}, 60_000);
afterAll(async () => {
  await api?.close();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const rowsOf = (action: string) => t.db.select().from(auditLog).where(eq(auditLog.action, action));

it('audits an admin reading a person\'s sessions (naming them), exporting the checkpoints, and a user exporting a conversation', async () => {
  const admin = await makeUser(t.db, { role: 'admin' });
  const bob = await makeUser(t.db);
  const adminCookie = `enclave_session=${(await createSession(t.db, admin.id, { hours: 1 })).token}`;
  expect((await api.trpc('query', 'users.sessions', { id: bob.id }, adminCookie)).status).toBe(200);
  expect(await rowsOf('users.sessions')).toMatchObject([{ actorUserId: admin.id, target: bob.id, outcome: 'success', detail: { read: true } }]);
  expect((await api.trpc('query', 'audit.exportAnchors', undefined, adminCookie)).status).toBe(200);
  expect(await rowsOf('audit.exportAnchors')).toMatchObject([{ actorUserId: admin.id, outcome: 'success' }]);

  const { id } = await new Conversations(t.db, masterKey, bob.id).create({ title: 'a private title' });
  const bobCookie = `enclave_session=${(await createSession(t.db, bob.id, { hours: 1 })).token}`;
  const exported = await api.request(`/api/conversations/${id}/export?format=md`, { cookie: bobCookie });
  expect(exported.status).toBe(200);
  const [row] = await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'conversations.export'), eq(auditLog.target, id)));
  expect(row).toMatchObject({ actorUserId: bob.id, outcome: 'success', detail: { format: 'md', messages: 0 } });
  expect(JSON.stringify(row)).not.toContain('a private title');
});

it("audits an admin's view of someone's dataset content, naming the dataset, without the content", async () => {
  const admin = await makeUser(t.db, { role: 'admin' });
  const owner = await makeUser(t.db, { role: 'engineer' });
  const dataset = await makeDataset(t.db, masterKey, dataDir, owner.id, 5);
  const cookie = `enclave_session=${(await createSession(t.db, admin.id, { hours: 1 })).token}`;
  const preview = await api.trpc('query', 'datasets.preview', { id: dataset.id, limit: 2 }, cookie);
  expect(preview.status).toBe(200);
  const rows = await rowsOf('datasets.preview');
  expect(rows).toMatchObject([{ actorUserId: admin.id, target: dataset.id, outcome: 'success', detail: { ownerId: owner.id } }]);
  expect(JSON.stringify(rows)).not.toContain('plus');
});
