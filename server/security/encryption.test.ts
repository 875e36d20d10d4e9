import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conversations } from '../chat/conversations';
import { Messages } from '../chat/messages';
import { createDb } from '../db/client';
import { dataKeys } from '../db/schema';
import { makeUser } from '../testing/factories';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { decryptText, encryptText, rotateMasterKey } from './encryption';
import { keyFingerprint } from './master-key';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('crypto');
});
afterAll(async () => {
  await t?.drop();
});

/** The install's master key until the rotation test replaces it. */
const oldKey = randomBytes(32);
const SECRET_TEXT = 'The launch code is PLAINTEXT-CANARY-7731 and 机密内容';
const SECRET_TITLE = 'TITLE-CANARY-4410 quarterly numbers';

describe('encryption at rest', () => {
  it('round-trips text, with a fresh IV every time', async () => {
    const key = oldKey;
    const a = await encryptText(t.db, key, 'same text');
    const b = await encryptText(t.db, key, 'same text');
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.dataKeyId).toBe(b.dataKeyId);
    expect(await decryptText(t.db, key, a.ciphertext, a.dataKeyId)).toBe('same text');
    const tampered = Buffer.from(a.ciphertext);
    tampered[tampered.length - 1]! ^= 1;
    await expect(decryptText(t.db, key, tampered, a.dataKeyId)).rejects.toThrow();
  });

  it('keeps messages and titles out of a pg_dump, and rotation re-wraps keys without touching messages', async () => {
    const user = await makeUser(t.db);
    const conversations = new Conversations(t.db, oldKey, user.id);
    const { id } = await conversations.create({ title: SECRET_TITLE });
    const messages = new Messages(t.db, oldKey, user.id);
    const { id: messageId } = await messages.add({ conversationId: id, parentId: null, role: 'user', content: SECRET_TEXT });

    const dump = execFileSync('pg_dump', [t.url], { maxBuffer: 64 * 1024 * 1024 }).toString('utf8');
    expect(dump).toContain(messageId); // the dump does hold the row...
    expect(dump).not.toContain('PLAINTEXT-CANARY-7731'); // ...but not its text
    expect(dump).not.toContain('机密内容');
    expect(dump).not.toContain('TITLE-CANARY-4410');
    expect(dump).not.toContain(Buffer.from(SECRET_TEXT).toString('hex'));

    const before = await t.db.$client.query('SELECT content_enc FROM messages WHERE id = $1', [messageId]);
    const newKey = randomBytes(32);
    const { rewrapped } = await rotateMasterKey(t.db, oldKey, newKey);
    expect(rewrapped).toBeGreaterThanOrEqual(1);
    const after = await t.db.$client.query('SELECT content_enc FROM messages WHERE id = $1', [messageId]);
    expect(after.rows[0].content_enc.equals(before.rows[0].content_enc)).toBe(true);
    expect((await t.db.select().from(dataKeys)).every((k) => k.masterFingerprint === keyFingerprint(newKey))).toBe(true);

    // A fresh handle stands for another process: nothing cached, only what the database holds.
    const other = createDb(t.url, 1);
    try {
      const withNew = new Messages(other, newKey, user.id);
      expect((await withNew.list(id)).map((m) => m.content)).toEqual([SECRET_TEXT]);
      expect((await new Conversations(other, newKey, user.id).list()).map((c) => c.title)).toEqual([SECRET_TITLE]);
      await expect(new Messages(other, oldKey, user.id).list(id)).rejects.toThrow(/wrapped by master key/);
      // A process still holding the retired key must not seal new content under it.
      await expect(encryptText(other, oldKey, 'new text')).rejects.toThrow(/restart with the current master key/);
      const sealed = await encryptText(other, newKey, 'new text');
      expect(await decryptText(other, newKey, sealed.ciphertext, sealed.dataKeyId)).toBe('new text');
    } finally {
      await other.$client.end();
    }
    // Rotating again from the retired key finds nothing it may touch.
    await expect(rotateMasterKey(t.db, oldKey, randomBytes(32))).rejects.toThrow(/another master key/);
  });
});
