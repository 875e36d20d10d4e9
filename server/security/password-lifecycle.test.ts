import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, passwordHistory, users } from '../db/schema';
import { closeRedis } from '../core/redis';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { startApiTestServer } from '../api/testing/api-test-server';
import { guardPage } from '../roles/page-guard';
import { checkPasswordPolicy, commonPasswords } from './password-policy';
import { getSessionUser } from './sessions';
import { ensureAdmin } from './users';

process.env.REDIS_PREFIX = testRedisPrefix('pwlife');

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
/** A second web process on the same database: revocations must reach it at once. */
let other: Awaited<ReturnType<typeof startApiTestServer>>;
const masterKey = randomBytes(32);
let admin: { cookie: string };

beforeAll(async () => {
  t = await createTestDatabase('pwlife');
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_PASSWORD_HISTORY: '3' } });
  other = await startApiTestServer({ db: t.db, masterKey });
  admin = await api.userSession('admin');
});
afterAll(async () => {
  await api?.close();
  await other?.close();
  await closeRedis();
  await t?.drop();
});

async function signIn(email: string, password: string, userAgent = 'test-agent/1.0') {
  const res = await api.trpc('mutation', 'auth.signIn', { email, password }, undefined, { 'user-agent': userAgent });
  expect(res.status, res.error?.message).toBe(200);
  return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, user: res.data.user };
}

async function auditRows(action: string) {
  return t.db.select().from(auditLog).where(eq(auditLog.action, action));
}

describe('the password policy', () => {
  const policy = { minLength: 12, history: 5 };
  it('refuses short, listed (even with digits stuck on), and email-name passwords, naming the field', () => {
    expect(commonPasswords().size).toBeGreaterThanOrEqual(5000);
    expect(() => checkPasswordPolicy('short-one', 'a@b.test', policy)).toThrow(/newPassword: must be at least 12 characters/);
    expect(() => checkPasswordPolicy('baseball12345', 'a@b.test', policy)).toThrow(/common or leaked/);
    expect(() => checkPasswordPolicy('Password123456!', 'a@b.test', policy)).toThrow(/common or leaked/);
    expect(() => checkPasswordPolicy('my-jane.doe-secret', 'Jane.Doe@bank.example', policy)).toThrow(/email name/);
    expect(() => checkPasswordPolicy('aaaaaaaaaaaaaaaa', 'x@b.test', policy)).toThrow(/too few different/);
    expect(() => checkPasswordPolicy('violet anchors drift slowly', 'jane.doe@bank.example', policy)).not.toThrow();
  });
});

describe('one-time passwords', () => {
  it('the first start generates one that must be changed; a configured one need not be', async () => {
    const db = await createTestDatabase('pwlife_admin');
    try {
      const created = await ensureAdmin(db.db, { ENCLAVE_ADMIN_EMAIL: 'root@example.test', ENCLAVE_ADMIN_PASSWORD: undefined });
      expect(created.oneTimePassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect((await db.db.select().from(users))[0]!.mustChangePassword).toBe(true);
    } finally {
      await db.drop();
    }
    const configured = await createTestDatabase('pwlife_admin2');
    try {
      await ensureAdmin(configured.db, { ENCLAVE_ADMIN_EMAIL: 'root@example.test', ENCLAVE_ADMIN_PASSWORD: 'operator-chosen-secret' });
      expect((await configured.db.select().from(users))[0]!.mustChangePassword).toBe(false);
    } finally {
      await configured.drop();
    }
  });

  it('a user an admin created may do nothing but change the password, which must pass the policy and not be reused', async () => {
    const email = 'first.timer@example.test';
    const oneTime = 'given-by-the-admin-1';
    const created = await api.trpc('mutation', 'users.create', { email, password: oneTime, role: 'engineer' }, admin.cookie);
    expect(created.status).toBe(200);
    expect(created.data.mustChangePassword).toBe(true);

    const { cookie, user } = await signIn(email, oneTime);
    expect(user.mustChangePassword).toBe(true);
    expect((await api.trpc('query', 'auth.me', undefined, cookie)).data).toMatchObject({ email, mustChangePassword: true });
    const refused = await api.trpc('query', 'models.list', undefined, cookie);
    expect(refused.status).toBe(403);
    expect(refused.error?.message).toMatch(/one-time password/);
    expect((await api.trpc('mutation', 'keys.create', { name: 'sneaky' }, cookie)).status).toBe(403);

    const change = (currentPassword: string, newPassword: string) => api.trpc('mutation', 'auth.changePassword', { currentPassword, newPassword }, cookie);
    expect((await change('not it', 'violet anchors drift slowly')).error?.message).toMatch(/^currentPassword: /);
    const weak = await change(oneTime, 'password1234');
    expect([weak.status, weak.error?.message]).toEqual([400, 'newPassword: this password is on the list of common or leaked passwords']);
    const reused = await change(oneTime, oneTime);
    expect([reused.status, reused.error?.message]).toEqual([400, 'newPassword: must differ from your last 3 passwords']);
    const unknownKey = await api.trpc('mutation', 'auth.changePassword', { currentPassword: oneTime, newPassword: 'violet anchors drift slowly', extra: 1 }, cookie);
    expect(unknownKey.status).toBe(400);

    // Pages too: the account page is the only one served.
    const page = (pathname: string) => guardPage(t.db, { headers: { cookie }, url: pathname }, pathname);
    expect(await page('/')).toEqual({ kind: 'redirect', location: '/account' });
    expect(await page('/deployments')).toEqual({ kind: 'redirect', location: '/account' });
    expect(await page('/account')).toEqual({ kind: 'next' });
    // And the plain HTTP routes (uploads, downloads) see nobody.
    expect(await getSessionUser(t.db, { headers: { cookie } })).toBeNull();

    expect((await change(oneTime, 'violet anchors drift slowly')).status).toBe(200);
    expect(await page('/deployments')).toEqual({ kind: 'next' });
    expect((await getSessionUser(t.db, { headers: { cookie } }))?.email).toBe(email);
    expect((await api.trpc('query', 'models.list', undefined, cookie)).status).toBe(200);
    expect((await api.trpc('query', 'auth.me', undefined, cookie)).data.mustChangePassword).toBe(false);

    // The audit trail has the change and the refusals, never a password.
    const rows = await auditRows('auth.changePassword');
    expect(rows.map((r) => r.outcome).sort()).toEqual(['failure', 'failure', 'failure', 'failure', 'success']);
    const all = JSON.stringify(await t.db.select().from(auditLog));
    expect(all).not.toContain(oneTime);
    expect(all).not.toContain('violet anchors');
  });

  it('refuses the last N passwords (N = 3 here) and allows an older one', async () => {
    const s = await api.userSession('user', 'first password of many');
    const passwords = ['second password, new', 'third one, also new', 'fourth in the row!'];
    let current = s.password;
    for (const next of passwords) {
      const res = await api.trpc('mutation', 'auth.changePassword', { currentPassword: current, newPassword: next }, s.cookie);
      expect(res.status, res.error?.message).toBe(200);
      current = next;
    }
    const back = await api.trpc('mutation', 'auth.changePassword', { currentPassword: current, newPassword: 'third one, also new' }, s.cookie);
    expect([back.status, back.error?.message]).toEqual([400, 'newPassword: must differ from your last 3 passwords']);
    const older = await api.trpc('mutation', 'auth.changePassword', { currentPassword: current, newPassword: s.password }, s.cookie);
    expect(older.status, older.error?.message).toBe(200);
    // Only hashes are kept, and only as many as needed.
    const kept = await t.db.select().from(passwordHistory).where(eq(passwordHistory.userId, s.user.id));
    expect(kept).toHaveLength(3);
    for (const row of kept) expect(row.passwordHash).toMatch(/^\$argon2id\$/);
  });

  it('changing the password ends the other sessions, not the one that changed it', async () => {
    const s = await api.userSession('viewer');
    const second = await signIn(s.email, s.password);
    expect((await api.trpc('mutation', 'auth.changePassword', { currentPassword: s.password, newPassword: 'a fresh passphrase here' }, s.cookie)).data.revokedSessions).toBe(1);
    expect((await api.trpc('query', 'auth.me', undefined, s.cookie)).data).not.toBeNull();
    expect((await other.trpc('query', 'auth.me', undefined, second.cookie)).data).toBeNull();
  });

  it('an admin reset answers a new one-time password once, ends every session of the user, and audits without it', async () => {
    const s = await api.userSession('user');
    const other1 = await signIn(s.email, s.password);
    const reset = await api.trpc('mutation', 'users.resetPassword', { id: s.user.id }, admin.cookie);
    expect(reset.status).toBe(200);
    expect(reset.data).toMatchObject({ id: s.user.id, revokedSessions: 2 });
    const oneTime: string = reset.data.oneTimePassword;
    expect(oneTime).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // Gone at once, on this process and on another.
    expect((await api.trpc('query', 'auth.me', undefined, s.cookie)).data).toBeNull();
    expect((await other.trpc('query', 'auth.me', undefined, other1.cookie)).data).toBeNull();
    expect((await api.trpc('mutation', 'auth.signIn', { email: s.email, password: s.password })).status).toBe(401);

    const again = await signIn(s.email, oneTime);
    expect(again.user.mustChangePassword).toBe(true);
    const [row] = (await auditRows('users.resetPassword')).filter((r) => r.target === s.user.id);
    expect(row).toMatchObject({ outcome: 'success' });
    expect(JSON.stringify(await t.db.select().from(auditLog))).not.toContain(oneTime);

    expect((await api.trpc('mutation', 'users.resetPassword', { id: 'nope' }, admin.cookie)).error?.message).toMatch(/^id: /);
    expect((await api.trpc('mutation', 'users.resetPassword', { id: '00000000-0000-4000-8000-000000000000' }, admin.cookie)).status).toBe(404);
  });
});

describe('directory accounts', () => {
  it('have no password here to change or reset', async () => {
    const s = await api.userSession('user');
    await t.db.update(users).set({ authSource: 'ldap' }).where(eq(users.id, s.user.id));
    const reset = await api.trpc('mutation', 'users.resetPassword', { id: s.user.id }, admin.cookie);
    expect([reset.status, reset.error?.message]).toEqual([409, 'This account signs in through LDAP: its password is changed in the directory, not here']);
    const change = await api.trpc('mutation', 'auth.changePassword', { currentPassword: s.password, newPassword: 'violet anchors drift slowly' }, s.cookie);
    expect(change.status).toBe(409);
  });
});

describe('sessions', () => {
  it('a user lists their sessions (the current one marked) and revokes another, which ends at once on every process', async () => {
    const s = await api.userSession('user');
    const phone = await signIn(s.email, s.password, 'Mozilla/5.0 (iPhone)');
    const list = await api.trpc('query', 'auth.sessions', undefined, s.cookie);
    expect(list.status).toBe(200);
    expect(list.data).toHaveLength(2);
    const mine = list.data.find((x: { current: boolean }) => x.current);
    const theirs = list.data.find((x: { current: boolean }) => !x.current);
    expect(theirs).toMatchObject({ userAgent: 'Mozilla/5.0 (iPhone)', clientAddress: '127.0.0.1' });
    expect(theirs.lastSeenAt).toBeInstanceOf(Date);
    expect(JSON.stringify(list.data)).not.toMatch(/token/i);
    expect((await other.trpc('query', 'auth.me', undefined, phone.cookie)).data).not.toBeNull();

    // Another user cannot end it (not found), nor list it.
    const stranger = await api.userSession('user');
    expect((await api.trpc('mutation', 'auth.revokeSession', { id: theirs.id }, stranger.cookie)).status).toBe(404);
    expect((await api.trpc('query', 'auth.sessions', undefined, stranger.cookie)).data.map((x: { id: string }) => x.id)).not.toContain(theirs.id);

    expect((await api.trpc('mutation', 'auth.revokeSession', { id: theirs.id }, s.cookie)).status).toBe(200);
    expect((await other.trpc('query', 'auth.me', undefined, phone.cookie)).data).toBeNull();
    expect((await api.trpc('query', 'auth.me', undefined, s.cookie)).data).not.toBeNull();
    expect((await api.trpc('query', 'auth.sessions', undefined, s.cookie)).data.map((x: { id: string }) => x.id)).toEqual([mine.id]);
    expect((await api.trpc('mutation', 'auth.revokeSession', { id: 'x' }, s.cookie)).error?.message).toMatch(/^id: /);

    // Sign out everywhere else.
    const laptop = await signIn(s.email, s.password);
    const tablet = await signIn(s.email, s.password);
    expect((await api.trpc('mutation', 'auth.revokeOtherSessions', undefined, s.cookie)).data).toEqual({ revokedSessions: 2 });
    expect((await other.trpc('query', 'auth.me', undefined, laptop.cookie)).data).toBeNull();
    expect((await other.trpc('query', 'auth.me', undefined, tablet.cookie)).data).toBeNull();
    expect((await other.trpc('query', 'auth.me', undefined, s.cookie)).data).not.toBeNull();
  });

  it("an admin sees and revokes anyone's sessions (the look is audited)", async () => {
    const s = await api.userSession('engineer');
    const seen = await api.trpc('query', 'users.sessions', { id: s.user.id }, admin.cookie);
    expect(seen.data).toHaveLength(1);
    expect(seen.data[0].current).toBe(false);
    expect((await auditRows('users.sessions')).length).toBeGreaterThan(0);
    expect((await api.trpc('mutation', 'users.revokeSession', { id: seen.data[0].id }, admin.cookie)).status).toBe(200);
    expect((await other.trpc('query', 'auth.me', undefined, s.cookie)).data).toBeNull();
    expect((await api.trpc('query', 'users.sessions', { id: s.user.id }, s.cookie)).status).toBe(401);
  });
});
