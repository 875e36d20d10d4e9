import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, conversations, dataClassifications, dataKeys, datasets, legalHolds, loadTests, messages } from '../../db/schema';
import { Conversations } from '../../chat/conversations';
import { Messages } from '../../chat/messages';
import { openDatasetRows } from '../../lifecycle/datasets/store';
import { sealPrompts, openPrompts } from '../../evaluation/loadtest/sealed-prompts';
import { dataKeyForSealing, encryptText } from '../../security/encryption';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeDataset, makeJob, makeUser } from '../../testing/factories';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { runMaintenance } from '../../../workers/maintenance';
import { applyRetention } from './apply';
import { resealUnderOwnerKeys } from './reseal';

process.env.REDIS_PREFIX = testRedisPrefix('retention');
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let dataDir: string;
const masterKey = randomBytes(32);
beforeAll(async () => {
  t = await createTestDatabase('retention');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-retention-'));
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: dataDir } });
});
afterAll(async () => {
  await api?.close();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000);

async function conversationAged(userId: string, days: number, level?: number) {
  const c = await new Conversations(t.db, masterKey, userId).create({ title: 'old talk' });
  await new Messages(t.db, masterKey, userId).add({ conversationId: c.id, parentId: null, role: 'user', content: 'hello' });
  await t.db.update(conversations).set({ updatedAt: daysAgo(days) }).where(eq(conversations.id, c.id));
  if (level !== undefined) await t.db.insert(dataClassifications).values({ subjectKind: 'conversation', subjectId: c.id, level, setBy: 'user' });
  return c.id;
}
const exists = async (id: string) => (await t.db.select({ id: conversations.id }).from(conversations).where(eq(conversations.id, id))).length === 1;

describe('retention', () => {
  it('deletes only what is past its level\'s limit, never what is on hold, and audits the counts', async () => {
    const admin = await api.userSession('admin');
    const set = (subjectKind: string, level: number, keepDays: number | null) => api.trpc('mutation', 'retention.setPolicy', { subjectKind, level, keepDays }, admin.cookie);
    // Bad input names its field.
    const bad = await set('conversation', 3, 0);
    expect([bad.status, bad.error?.message]).toEqual([400, expect.stringMatching(/^keepDays: /)]);
    expect((await set('conversation', 7, 30)).status).toBe(400);
    expect((await set('conversation', 3, 30)).status).toBe(200); // restricted: 30 days
    expect((await set('conversation', 1, 365)).status).toBe(200); // internal (the default level): a year
    expect((await set('conversation', 0, null)).status).toBe(200); // public: kept forever
    expect((await set('dataset', 1, 90)).status).toBe(200);
    const listed = (await api.trpc('query', 'retention.policies', undefined, admin.cookie)).data;
    expect(listed.policies.find((p: { subjectKind: string; level: number }) => p.subjectKind === 'conversation' && p.level === 3)).toMatchObject({ levelName: 'restricted', keepDays: 30 });
    expect(listed.policies.find((p: { subjectKind: string; level: number }) => p.subjectKind === 'conversation' && p.level === 2)).toMatchObject({ levelName: 'confidential', keepDays: null });

    const alice = await makeUser(t.db);
    const held = await makeUser(t.db);
    const oldInternal = await conversationAged(alice.id, 400);
    const recentInternal = await conversationAged(alice.id, 100);
    const oldRestricted = await conversationAged(alice.id, 40, 3);
    const recentRestricted = await conversationAged(alice.id, 20, 3);
    const ancientPublic = await conversationAged(alice.id, 4000, 0);
    const oldConfidential = await conversationAged(alice.id, 4000, 2);
    const heldConversation = await conversationAged(alice.id, 400);
    const heldUsersConversation = await conversationAged(held.id, 400);
    expect((await api.trpc('mutation', 'retention.placeHold', { subjectKind: 'conversation', subjectId: heldConversation, reason: 'Audit 5' }, admin.cookie)).status).toBe(200);
    expect((await api.trpc('mutation', 'retention.placeHold', { subjectKind: 'user', subjectId: held.id, reason: 'Audit 6' }, admin.cookie)).status).toBe(200);
    const twice = await api.trpc('mutation', 'retention.placeHold', { subjectKind: 'user', subjectId: held.id, reason: 'again' }, admin.cookie);
    expect([twice.status, twice.error?.message]).toEqual([409, 'This user is already under legal hold']);
    const noReason = await api.trpc('mutation', 'retention.placeHold', { subjectKind: 'user', subjectId: alice.id, reason: '  ' }, admin.cookie);
    expect([noReason.status, noReason.error?.message]).toEqual([400, expect.stringMatching(/^reason: /)]);

    // Datasets: one past 90 days, one recent, one past 90 days but trained on by a job.
    const oldDs = await makeDataset(t.db, masterKey, dataDir, alice.id);
    const recentDs = await makeDataset(t.db, masterKey, dataDir, alice.id);
    const usedDs = await makeDataset(t.db, masterKey, dataDir, alice.id);
    await makeJob(t.db, { ownerId: alice.id, datasetId: usedDs.id, status: 'succeeded' });
    await t.db.update(datasets).set({ createdAt: daysAgo(100) }).where(sql`${datasets.id} IN (${oldDs.id}, ${usedDs.id})`);
    const [oldDsRow] = await t.db.select().from(datasets).where(eq(datasets.id, oldDs.id));

    const result = await runMaintenance(t.db, { task: 'retention' }, { masterKey, dataDir });
    expect(result.retention).toEqual({ conversations: { internal: 1, restricted: 1 }, datasets: { internal: 1 }, keptOnHold: 2, keptInUse: 1 });
    expect(await exists(oldInternal)).toBe(false);
    expect(await exists(oldRestricted)).toBe(false);
    for (const kept of [recentInternal, recentRestricted, ancientPublic, oldConfidential, heldConversation, heldUsersConversation]) expect(await exists(kept)).toBe(true);
    expect(await t.db.select().from(messages).where(eq(messages.conversationId, oldInternal))).toEqual([]);
    const leftDs = (await t.db.select({ id: datasets.id }).from(datasets)).map((d) => d.id).sort();
    expect(leftDs).toEqual([recentDs.id, usedDs.id].sort());
    expect(fs.existsSync(path.join(dataDir, oldDsRow!.storagePath))).toBe(false);

    const [row] = await t.db.select().from(auditLog).where(eq(auditLog.action, 'retention.applied'));
    expect(row).toMatchObject({ actorLabel: 'retention', outcome: 'success', detail: result.retention });
    // A second run finds nothing more and leaves no row.
    expect((await applyRetention(t.db, { dataDir })).conversations).toEqual({});
    expect((await t.db.select().from(auditLog).where(eq(auditLog.action, 'retention.applied'))).length).toBe(1);

    // Once the hold is lifted, the next run deletes it; the lifted hold stays as history.
    const holds = (await api.trpc('query', 'retention.holds', undefined, admin.cookie)).data;
    const h = holds.find((x: { subjectId: string }) => x.subjectId === heldConversation);
    expect(h).toMatchObject({ subjectKind: 'conversation', subjectLabel: alice.email, reason: 'Audit 5', placedBy: admin.email, liftedAt: null });
    expect((await api.trpc('mutation', 'retention.liftHold', { id: h.id }, admin.cookie)).status).toBe(200);
    expect((await api.trpc('mutation', 'retention.liftHold', { id: h.id }, admin.cookie)).status).toBe(404);
    expect((await applyRetention(t.db, { dataDir })).conversations).toEqual({ internal: 1 });
    expect(await exists(heldConversation)).toBe(false);
    expect(await exists(heldUsersConversation)).toBe(true);
    const [lifted] = await t.db.select().from(legalHolds).where(eq(legalHolds.id, h.id));
    expect(lifted!.liftedBy).toBe(admin.user.id);
    // Placing and lifting are audited by the guard, with the reason.
    const audited = await t.db.select().from(auditLog).where(eq(auditLog.action, 'retention.placeHold'));
    expect(audited.some((a) => a.outcome === 'success' && (a.detail as { reason?: string }).reason === 'Audit 5')).toBe(true);
  });

  it("refuses the owner's own deletes while they are on hold, without telling the reason", async () => {
    const admin = await api.userSession('admin');
    const owner = await api.userSession('engineer');
    const c = await conversationAged(owner.user.id, 1);
    const ds = await makeDataset(t.db, masterKey, dataDir, owner.user.id);
    const hold = await api.trpc('mutation', 'retention.placeHold', { subjectKind: 'user', subjectId: owner.user.id, reason: 'Secret matter' }, admin.cookie);
    const conv = await api.trpc('mutation', 'conversations.delete', { id: c }, owner.cookie);
    expect([conv.status, conv.error?.message]).toEqual([409, 'This conversation is under legal hold: it cannot be deleted until an administrator lifts the hold']);
    const set = await api.trpc('mutation', 'datasets.delete', { id: ds.id }, owner.cookie);
    expect([set.status, set.error?.message]).toEqual([409, 'This dataset is under legal hold: it cannot be deleted until an administrator lifts the hold']);
    await api.trpc('mutation', 'retention.liftHold', { id: hold.data.id }, admin.cookie);
    expect((await api.trpc('mutation', 'datasets.delete', { id: ds.id }, owner.cookie)).status).toBe(200);
    expect((await api.trpc('mutation', 'conversations.delete', { id: c }, owner.cookie)).status).toBe(200);
  });

  it('the database refuses deleting what is on hold, whatever path tries', async () => {
    const bob = await makeUser(t.db);
    const c = await conversationAged(bob.id, 1);
    await t.db.insert(legalHolds).values({ subjectKind: 'conversation', subjectId: c, reason: 'x' });
    await expect(t.db.delete(conversations).where(eq(conversations.id, c))).rejects.toThrow();
    expect(await exists(c)).toBe(true);
  });
});

describe('re-sealing under owner keys', () => {
  it('moves content sealed under install keys to its owner key, keeps it readable, and is idempotent', async () => {
    const carol = await makeUser(t.db, { role: 'engineer' });
    // Rows as an older release stored them: everything under the install's key.
    const convs = new Conversations(t.db, masterKey, carol.id);
    const c = await convs.create({ title: 'x' });
    const install = await encryptText(t.db, masterKey, 'Quarterly numbers');
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(install.dataKeyId);
    await t.db.update(conversations).set({ titleEnc: Buffer.concat([prefix, install.ciphertext]) }).where(eq(conversations.id, c.id));
    const m = await encryptText(t.db, masterKey, 'the old message');
    await t.db.insert(messages).values({ conversationId: c.id, parentId: null, role: 'user', contentEnc: m.ciphertext, dataKeyId: m.dataKeyId });
    // A dataset sealed under the install key: written with the old key, as ingest did before.
    const ds = await makeDataset(t.db, masterKey, dataDir, carol.id);
    const installKey = await dataKeyForSealing(t.db, masterKey);
    const [dsRow] = await t.db.select().from(datasets).where(eq(datasets.id, ds.id));
    const { rewrapSealedFileKey } = await import('../../lifecycle/datasets/sealed-file');
    const { dataKeyForOpening } = await import('../../security/encryption');
    await rewrapSealedFileKey(path.join(dataDir, dsRow!.storagePath), (id) => dataKeyForOpening(t.db, masterKey, id), installKey);
    await t.db.update(datasets).set({ dataKeyId: installKey.id }).where(eq(datasets.id, ds.id));
    const lt = await makeLoadTest(carol.id, await sealPrompts(t.db, masterKey, { workload: { kind: 'prompts', prompts: ['p1', 'p2'], outputTokens: 8 } }));

    const first = await resealUnderOwnerKeys(t.db, masterKey, { dataDir });
    expect(first).toMatchObject({ messages: 1, titles: 1, datasets: 1, loadTests: 1, remaining: false });
    const carolKeys = new Set((await t.db.select().from(dataKeys).where(eq(dataKeys.ownerUserId, carol.id))).map((k) => k.id));
    const [msg] = await t.db.select().from(messages).where(eq(messages.conversationId, c.id));
    expect(carolKeys.has(msg!.dataKeyId)).toBe(true);
    const [after] = await t.db.select().from(datasets).where(eq(datasets.id, ds.id));
    expect(carolKeys.has(after!.dataKeyId)).toBe(true);
    // Still readable, all of it.
    expect((await new Messages(t.db, masterKey, carol.id).list(c.id))[0]!.content).toBe('the old message');
    expect((await convs.list())[0]!.title).toBe('Quarterly numbers');
    let rows = 0;
    for await (const _ of openDatasetRows(t.db, masterKey, ds.id, { part: 'all', dataDir })) rows++;
    expect(rows).toBe(20);
    const [ltRow] = await t.db.select().from(loadTests).where(eq(loadTests.id, lt));
    expect(carolKeys.has((ltRow!.spec as { workload: { promptsDataKeyId: number } }).workload.promptsDataKeyId)).toBe(true);
    expect(((await openPrompts(t.db, masterKey, ltRow!.spec)) as { workload: { prompts: string[] } }).workload.prompts).toEqual(['p1', 'p2']);

    // Idempotent: a second run finds nothing.
    expect(await resealUnderOwnerKeys(t.db, masterKey, { dataDir })).toEqual({ messages: 0, titles: 0, datasets: 0, loadTests: 0, remaining: false });
    // Resumable: a run stops at its budget, says more remains, and the next goes on from there.
    for (const text of ['a', 'b', 'c']) {
      const sealed = await encryptText(t.db, masterKey, text);
      await t.db.insert(messages).values({ conversationId: c.id, parentId: null, role: 'user', contentEnc: sealed.ciphertext, dataKeyId: sealed.dataKeyId });
    }
    expect(await resealUnderOwnerKeys(t.db, masterKey, { dataDir, budget: 2 })).toMatchObject({ messages: 2, remaining: true });
    expect(await resealUnderOwnerKeys(t.db, masterKey, { dataDir, budget: 2 })).toMatchObject({ messages: 1, remaining: false });
    expect((await new Messages(t.db, masterKey, carol.id).list(c.id)).map((x) => x.content).sort()).toEqual(['a', 'b', 'c', 'the old message']);
  });
});

async function makeLoadTest(ownerId: string, spec: Record<string, unknown>) {
  const [row] = await t.db.insert(loadTests).values({ ownerId, name: 'lt', targetUrl: 'http://127.0.0.1:9/v1', model: 'm', spec, status: 'succeeded' }).returning();
  return row!.id;
}
