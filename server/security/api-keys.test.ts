import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { apiKeys, users } from '../db/schema';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeUser } from '../testing/factories';
import { ApiKeyInputError, authenticateApiKey, createApiKey, hashApiKey, listApiKeys, revokeApiKey } from './api-keys';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('apikeys');
});
afterAll(async () => t?.drop());

test('a new key is returned once and stored only as its hash and prefix', async () => {
  const user = await makeUser(t.db, { role: 'engineer' });
  const { id, key, prefix } = await createApiKey(t.db, { userId: user.id, name: 'ci', models: ['a', 'b'] });
  expect(key).toMatch(/^sk-enc-[A-Za-z0-9_-]{43}$/);
  expect(key.startsWith(prefix)).toBe(true);
  const [row] = await t.db.select().from(apiKeys).where(eq(apiKeys.id, id));
  expect(row!.keyHash).toBe(hashApiKey(key));
  expect(JSON.stringify(row)).not.toContain(key);
  const auth = await authenticateApiKey(t.db, key);
  expect(auth).toMatchObject({ ok: true, keyId: id, userId: user.id, role: 'engineer', models: ['a', 'b'] });
});

test('malformed, unknown, revoked, expired keys and disabled users are rejected with the reason', async () => {
  const user = await makeUser(t.db);
  expect(await authenticateApiKey(t.db, 'nonsense')).toEqual({ ok: false, reason: 'malformed' });
  expect(await authenticateApiKey(t.db, 'sk-enc-' + 'A'.repeat(43))).toEqual({ ok: false, reason: 'unknown' });

  const revoked = await createApiKey(t.db, { userId: user.id, name: 'r' });
  expect(await revokeApiKey(t.db, user.id, revoked.id)).toBe(true);
  expect(await authenticateApiKey(t.db, revoked.key)).toEqual({ ok: false, reason: 'revoked' });

  const soon = await createApiKey(t.db, { userId: user.id, name: 'e', expiresAt: new Date(Date.now() + 60_000) });
  expect((await authenticateApiKey(t.db, soon.key)).ok).toBe(true);
  expect(await authenticateApiKey(t.db, soon.key, new Date(Date.now() + 120_000))).toEqual({ ok: false, reason: 'expired' });

  const live = await createApiKey(t.db, { userId: user.id, name: 'd' });
  await t.db.update(users).set({ disabled: true }).where(eq(users.id, user.id));
  expect(await authenticateApiKey(t.db, live.key)).toEqual({ ok: false, reason: 'user_disabled' });
});

test('bad input is refused before anything is written', async () => {
  const user = await makeUser(t.db);
  await expect(createApiKey(t.db, { userId: user.id, name: '  ' })).rejects.toBeInstanceOf(ApiKeyInputError);
  await expect(createApiKey(t.db, { userId: user.id, name: 'x', models: [] })).rejects.toBeInstanceOf(ApiKeyInputError);
  await expect(createApiKey(t.db, { userId: user.id, name: 'x', expiresAt: new Date(0) })).rejects.toBeInstanceOf(ApiKeyInputError);
  expect(await listApiKeys(t.db, user.id)).toEqual([]);
});

test('listing and revoking are scoped to the owner', async () => {
  const alice = await makeUser(t.db);
  const bob = await makeUser(t.db);
  const a = await createApiKey(t.db, { userId: alice.id, name: 'alice-key' });
  await createApiKey(t.db, { userId: bob.id, name: 'bob-key' });
  const listed = await listApiKeys(t.db, alice.id);
  expect(listed.map((k) => k.name)).toEqual(['alice-key']);
  expect(listed[0]).not.toHaveProperty('keyHash');

  expect(await revokeApiKey(t.db, bob.id, a.id)).toBe(false);
  expect((await authenticateApiKey(t.db, a.key)).ok).toBe(true);
  expect(await revokeApiKey(t.db, alice.id, 'not-a-uuid')).toBe(false);
  expect(await revokeApiKey(t.db, alice.id, a.id)).toBe(true);
  expect(await revokeApiKey(t.db, alice.id, a.id)).toBe(false);
});
