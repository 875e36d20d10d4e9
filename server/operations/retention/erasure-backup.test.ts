import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { datasets, messages } from '../../db/schema';
import type { Env } from '../../core/env';
import { Conversations } from '../../chat/conversations';
import { Messages } from '../../chat/messages';
import { openDatasetRows } from '../../lifecycle/datasets/store';
import { decryptText } from '../../security/encryption';
import { createEmptyTestDatabase, createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeDataset, makeUser } from '../../testing/factories';
import { createBackup } from '../backup/create';
import { restoreBackup } from '../backup/restore';
import { erasePerson } from './erasure';

// The issue's own test: after an erasure, an old backup can no longer open the person's content.
process.env.REDIS_PREFIX = testRedisPrefix('erasebackup');
let src: TestDatabase;
let work: string;
let dataDir: string;
let backups: string;
const masterKey = randomBytes(32);
const baseEnv = { ENCLAVE_BACKUP_KEY_FILE: undefined, ENCLAVE_BACKUP_DIR: undefined, ENCLAVE_MASTER_KEY_FILE: undefined, ENCLAVE_AUDIT_ANCHOR_DIR: undefined };
beforeAll(async () => {
  src = await createTestDatabase('erasebackup');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-erase-backup-'));
  dataDir = path.join(work, 'data');
  backups = path.join(work, 'backups');
  fs.mkdirSync(dataDir, { recursive: true });
});
afterAll(async () => {
  await src?.drop();
  fs.rmSync(work, { recursive: true, force: true });
});

const emptyDatabase = () => createEmptyTestDatabase('erasedrestore', 4);

test('an erasure reaches backups made before it: the restored backup cannot open the person, and opens everyone else', async () => {
  const people = [];
  for (const who of ['erased', 'kept']) {
    const user = await makeUser(src.db, { role: 'engineer', email: `${who}@example.org` });
    const conv = await new Conversations(src.db, masterKey, user.id).create({ title: `${who} title` });
    await new Messages(src.db, masterKey, user.id).add({ conversationId: conv.id, parentId: null, role: 'user', content: `${who} said this` });
    const ds = await makeDataset(src.db, masterKey, dataDir, user.id);
    people.push({ user, conv: conv.id, dataset: ds.id });
  }
  const [erased, kept] = people as [(typeof people)[0], (typeof people)[0]];
  const [captured] = await src.db.select().from(messages).where(eq(messages.conversationId, erased.conv));
  const [erasedDataset] = await src.db.select().from(datasets).where(eq(datasets.id, erased.dataset));

  const old = await createBackup({ db: src.db, env: { ...baseEnv, dataDir } as never, masterKey, to: backups });

  const report = await erasePerson(src.db, masterKey, {
    userId: erased.user.id,
    mode: 'erase',
    dataDir,
    confirmation: erased.user.email,
    env: { ...baseEnv, ENCLAVE_BACKUP_DIR: backups, dataDir } as unknown as Env,
    actor: { userId: null, label: 'test' },
  });
  expect(report.backups).toEqual({ backups: 1, keysRemoved: report.keys.destroyed.length });
  expect(report.keys.destroyed.length).toBeGreaterThan(0);

  // The backup from before the erasure, restored into an empty database and data directory.
  const target = await emptyDatabase();
  const restoredDir = path.join(work, 'restored');
  fs.mkdirSync(restoredDir);
  try {
    const restored = await restoreBackup({ backupDir: old.dir, db: target.db, dataDir: restoredDir, env: baseEnv as never, masterKey });
    expect(restored.shreddedKeys).toBe(report.keys.destroyed.length);
    // Their rows came back with the old backup, but nothing of them opens: message, title, dataset file.
    await expect(decryptText(target.db, masterKey, captured!.contentEnc, captured!.dataKeyId)).rejects.toThrow(`data key ${captured!.dataKeyId} was destroyed by an erasure (crypto-shredded)`);
    await expect(new Messages(target.db, masterKey, erased.user.id).list(erased.conv)).rejects.toThrow();
    await expect(new Conversations(target.db, masterKey, erased.user.id).list()).rejects.toThrow();
    expect(fs.existsSync(path.join(restoredDir, erasedDataset!.storagePath))).toBe(true);
    await expect(openDatasetRows(target.db, masterKey, erased.dataset, { part: 'all', dataDir: restoredDir }).next()).rejects.toThrow(/was destroyed by an erasure/);
    // Everyone else's content opens.
    expect((await new Messages(target.db, masterKey, kept.user.id).list(kept.conv)).map((m) => m.content)).toEqual(['kept said this']);
    expect((await new Conversations(target.db, masterKey, kept.user.id).list()).map((c) => c.title)).toEqual(['kept title']);
    let rows = 0;
    for await (const _ of openDatasetRows(target.db, masterKey, kept.dataset, { part: 'all', dataDir: restoredDir })) rows++;
    expect(rows).toBe(20);
  } finally {
    await target.drop();
  }
}, 120_000);
