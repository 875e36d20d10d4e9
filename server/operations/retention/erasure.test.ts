import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, conversations, dataKeys, deploymentEvents, groupMembers, groups, messages, quotas, requestLogs } from '../../db/schema';
import { createDb } from '../../db/client';
import { Conversations } from '../../chat/conversations';
import { Messages } from '../../chat/messages';
import { ReplyStream } from '../../chat/reply-stream';
import { ingestDataset } from '../../lifecycle/datasets/ingest';
import { openDatasetRows } from '../../lifecycle/datasets/store';
import { createApiKey } from '../../security/api-keys';
import { decryptText, encryptText } from '../../security/encryption';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeDeployment, makeUser } from '../../testing/factories';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { findText } from './scan';

process.env.REDIS_PREFIX = testRedisPrefix('erasure');
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let dataDir: string;
const masterKey = randomBytes(32);
beforeAll(async () => {
  t = await createTestDatabase('erasure');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-erasure-'));
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: dataDir } });
});
afterAll(async () => {
  await api?.close();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const marker = (who: string) => `${who}-private-${randomBytes(6).toString('hex')}`;

/** A person with something of everything: conversation (title, message, streamed reply), dataset, key, session, group, quota, request log. */
async function personWithContent(role: 'user' | 'engineer' = 'engineer') {
  const session = await api.userSession(role);
  const id = session.user.id;
  const text = { title: marker('title'), message: marker('message'), reply: marker('reply'), dataset: marker('dataset') };
  const convs = new Conversations(t.db, masterKey, id);
  const msgs = new Messages(t.db, masterKey, id);
  const conv = await convs.create({ title: `Notes ${text.title}` });
  const first = await msgs.add({ conversationId: conv.id, parentId: null, role: 'user', content: `My passport is ${text.message}` });
  const stream = await ReplyStream.open(t.db, masterKey, { messageIds: [], interrupted: { actorUserId: id, actorLabel: session.email, action: 'chat.send', outcome: 'failure' }, leaseMs: 60_000 });
  const draft = await stream.begin(msgs, { id: crypto.randomUUID(), conversationId: conv.id, parentId: first.id, model: 'm' });
  draft.append(`Noted: ${text.reply}`);
  await draft.finish({ finishReason: 'stop' });
  const rows = Array.from({ length: 5 }, (_, i) => JSON.stringify({ messages: [{ role: 'user', content: `row ${i} ${text.dataset}` }, { role: 'assistant', content: 'ok' }] })).join('\n');
  const ds = await ingestDataset(t.db, masterKey, dataDir, (async function* () { yield Buffer.from(rows); })(), { ownerId: id, name: 'mine', heldOutFraction: 0.2, seed: 1, maxBytes: 1 << 20 });
  if (!ds.ok) throw new Error(ds.message);
  const key = await createApiKey(t.db, { userId: id, name: 'k' });
  const [group] = await t.db.insert(groups).values({ name: `g-${randomBytes(3).toString('hex')}` }).returning();
  await t.db.insert(groupMembers).values({ groupId: group!.id, userId: id, source: 'local' });
  await t.db.insert(quotas).values({ subjectKind: 'user', subjectId: id, requestsPerMinute: 5 });
  await t.db.insert(quotas).values({ subjectKind: 'key', subjectId: key.id, requestsPerMinute: 5 });
  await t.db.insert(requestLogs).values({ userId: id, apiKeyId: key.id, model: 'm', status: 200, e2eMs: 1, overheadMs: 1, clientAddress: '10.1.2.3' });
  return { session, id, text, conv, datasetId: ds.dataset.id };
}

describe('erasure of a person', () => {
  it('leaves no row or file holding their text, destroys their keys, keeps other people readable, and proves it', async () => {
    const admin = await api.userSession('admin');
    const alice = await personWithContent();
    const bob = await personWithContent();
    // An older message of Alice's, sealed under an install key (before per-person keys): deleted, and counted.
    const legacy = await encryptText(t.db, masterKey, 'legacy words');
    await t.db.insert(messages).values({ conversationId: alice.conv.id, parentId: null, role: 'user', contentEnc: legacy.ciphertext, dataKeyId: legacy.dataKeyId });
    // A deployment's history that names her as who scaled it.
    const { deployment } = await makeDeployment(t.db);
    await t.db.insert(deploymentEvents).values({ deploymentId: deployment.id, kind: 'scale', message: `desired replicas 1 → 2 by ${alice.session.email}` });

    // Everything of Alice's is under keys she owns; her ciphertext captured for the proof below.
    const aliceKeys = (await t.db.select().from(dataKeys).where(eq(dataKeys.ownerUserId, alice.id))).map((k) => k.id);
    expect(aliceKeys.length).toBeGreaterThan(0);
    const [captured] = await t.db.select().from(messages).where(eq(messages.dataKeyId, aliceKeys[0]!)).limit(1);
    expect(await decryptText(t.db, masterKey, captured!.contentEnc, captured!.dataKeyId)).toMatch(/private/);
    // Before: the scan finds nothing in clear (all sealed), and the dataset file exists.
    expect(await findText(t.db, alice.text.message, dataDir)).toEqual({ rows: [], files: [] });

    // A wrong confirmation is refused, naming the field; nothing changed.
    const wrong = await api.trpc('mutation', 'users.erase', { id: alice.id, confirmationText: 'someone@else' }, admin.cookie);
    expect([wrong.status, wrong.error?.message]).toEqual([400, "confirmationText: type the user's email exactly to confirm"]);
    // Under legal hold: refused with the reason, for erasure and deletion alike.
    const hold = await api.trpc('mutation', 'retention.placeHold', { subjectKind: 'user', subjectId: alice.id, reason: 'Matter 2026-17' }, admin.cookie);
    expect(hold.status).toBe(200);
    for (const how of ['users.erase', 'users.delete']) {
      const refused = await api.trpc('mutation', how, { id: alice.id, confirmationText: alice.session.email }, admin.cookie);
      expect([refused.status, refused.error?.message]).toEqual([409, expect.stringContaining('under legal hold (Matter 2026-17)')]);
    }
    // The database refuses too, whatever path tries.
    await expect(t.db.execute(sql`DELETE FROM users WHERE id = ${alice.id}`)).rejects.toThrow();
    expect((await api.trpc('mutation', 'retention.liftHold', { id: hold.data.id }, admin.cookie)).status).toBe(200);
    // Not one's own account.
    const self = await api.trpc('mutation', 'users.erase', { id: admin.user.id, confirmationText: admin.email }, admin.cookie);
    expect(self.status).toBe(400);

    const erased = await api.trpc('mutation', 'users.erase', { id: alice.id, confirmationText: alice.session.email.toUpperCase() }, admin.cookie);
    expect(erased.status).toBe(200);
    const report = erased.data;
    expect(report).toMatchObject({
      mode: 'erase',
      userId: alice.id,
      deleted: { replyStreams: 1, conversations: 1, messages: 3, datasets: 1, apiKeys: 1, sessions: 1, groupMemberships: 1, quotas: 2, requestLogs: 1, account: 1, dataKeys: aliceKeys.length },
      keys: { remaining: 0, referencingRows: 0, contentUnderSharedKeys: 1, sampleDecryption: { failed: true, error: expect.stringMatching(/does not exist/) }, sampleTextInAuditRows: 0 },
      files: { deleted: 1, remaining: 0, errors: [] },
      detached: { deploymentEvents: 1 },
    });
    expect((await t.db.select().from(deploymentEvents).where(eq(deploymentEvents.deploymentId, deployment.id)))[0]!.message).toBe('desired replicas 1 → 2 by [erased user]');
    expect(report.keys.destroyed.sort()).toEqual(aliceKeys.sort());
    // No backup exists yet in this data directory: none to rewrite, and the call says so.
    expect(report.backups).toEqual({ backups: 0, keysRemoved: 0 });

    // No row and no file holds any of her text; no key of hers remains; her captured ciphertext no longer opens, even from a fresh connection.
    for (const needle of [...Object.values(alice.text), alice.session.email.split('@')[0]!]) {
      const found = await findText(t.db, needle, dataDir);
      // Her email stays only in audit rows (the actor label of what she did, kept by law).
      expect(found.files).toEqual([]);
      expect(found.rows.filter((r) => !r.startsWith('audit_log'))).toEqual([]); // audit_log and its monthly partitions
    }
    expect(await t.db.select().from(dataKeys).where(eq(dataKeys.ownerUserId, alice.id))).toEqual([]);
    const fresh = createDb(t.url, 1);
    await expect(decryptText(fresh, masterKey, captured!.contentEnc, captured!.dataKeyId)).rejects.toThrow(/does not exist/);
    await fresh.$client.end();
    expect(fs.readdirSync(dataDir, { recursive: true }).filter((f) => String(f).endsWith(alice.datasetId))).toEqual([]);

    // Bob's content still opens.
    const bobMsgs = await new Messages(t.db, masterKey, bob.id).list(bob.conv.id);
    expect(bobMsgs.map((m) => m.content).join(' ')).toContain(bob.text.reply);
    expect(await new Conversations(t.db, masterKey, bob.id).list()).toHaveLength(1);
    let bobRows = 0;
    for await (const _ of openDatasetRows(t.db, masterKey, bob.datasetId, { part: 'all', dataDir })) bobRows++;
    expect(bobRows).toBe(5);

    // The stored report: one audit row with counts and key ids, no text and no email; the guard's row has no confirmation.
    const rows = await t.db.select().from(auditLog).where(eq(auditLog.target, alice.id));
    const stored = rows.find((r) => r.action === 'users.erase.report')!;
    expect(stored.outcome).toBe('success');
    expect(stored.detail).toMatchObject({ deleted: { messages: 3 }, keys: { destroyed: expect.any(Array) } });
    const guard = rows.find((r) => r.action === 'users.erase' && r.outcome === 'success')!;
    expect(guard.detail).toEqual({ id: alice.id });
    for (const r of rows) {
      for (const needle of Object.values(alice.text)) expect(JSON.stringify(r)).not.toContain(needle);
      expect(JSON.stringify(r.detail)).not.toContain(alice.session.email);
    }
    const listed = await api.trpc('query', 'users.erasureReports', undefined, admin.cookie);
    expect(listed.data[0]).toMatchObject({ action: 'users.erase.report', target: alice.id });
  });

  it('deletes an account (not only disables it) and refuses the last admin or a conversation on hold', async () => {
    const admin = await api.userSession('admin');
    const carol = await personWithContent('user');
    const [conv] = await t.db.select().from(conversations).where(eq(conversations.userId, carol.id));
    const hold = await api.trpc('mutation', 'retention.placeHold', { subjectKind: 'conversation', subjectId: conv!.id, reason: 'Complaint 88' }, admin.cookie);
    expect(hold.status).toBe(200);
    const refused = await api.trpc('mutation', 'users.delete', { id: carol.id, confirmationText: carol.session.email }, admin.cookie);
    expect([refused.status, refused.error?.message]).toEqual([409, expect.stringContaining('a conversation of theirs is under legal hold (Complaint 88)')]);
    // The owner cannot delete the held conversation either, and is not told the reason.
    const own = await api.trpc('mutation', 'conversations.delete', { id: conv!.id }, carol.session.cookie);
    expect([own.status, own.error?.message]).toEqual([409, 'This conversation is under legal hold: it cannot be deleted until an administrator lifts the hold']);
    await api.trpc('mutation', 'retention.liftHold', { id: hold.data.id }, admin.cookie);

    const done = await api.trpc('mutation', 'users.delete', { id: carol.id, confirmationText: carol.session.email }, admin.cookie);
    expect(done.status).toBe(200);
    expect(done.data).toMatchObject({ mode: 'delete', deleted: { account: 1, conversations: 1 }, keys: { remaining: 0 }, backups: null });
    expect((await api.trpc('query', 'users.list', undefined, admin.cookie)).data.some((u: { id: string }) => u.id === carol.id)).toBe(false);
    // Her session is gone with her.
    expect((await api.trpc('query', 'conversations.list', undefined, carol.session.cookie)).status).toBe(401);

    // Every other admin disabled: the remaining one cannot be deleted by… nobody else is left to ask, so check the rule directly.
    const lone = await makeUser(t.db, { role: 'admin' });
    await t.db.execute(sql`UPDATE users SET disabled = true WHERE role = 'admin' AND id NOT IN (${lone.id}, ${admin.user.id})`);
    await t.db.execute(sql`UPDATE users SET disabled = true WHERE id = ${admin.user.id}`);
    const { erasePerson } = await import('./erasure');
    await expect(erasePerson(t.db, masterKey, { userId: lone.id, mode: 'delete', dataDir, confirmation: lone.email, actor: { userId: null, label: 'test' } })).rejects.toThrow(/last enabled admin/);
    await t.db.execute(sql`UPDATE users SET disabled = false WHERE id = ${admin.user.id}`);
  });

  it('is for admins only', async () => {
    const engineer = await api.userSession('engineer');
    const victim = await makeUser(t.db);
    expect((await api.trpc('mutation', 'users.erase', { id: victim.id, confirmationText: victim.email }, engineer.cookie)).status).toBe(403);
    expect((await api.trpc('query', 'retention.holds', undefined, engineer.cookie)).status).toBe(403);
  });
});
