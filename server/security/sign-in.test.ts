import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, sessions, users } from '../db/schema';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { DomainError } from '../core/errors';
import { memorySignInLimiter, type SignInLimiter } from './sign-in-limits';
import { createSession, getUserByToken, hashSessionToken } from './sessions';
import { signIn } from './sign-in';
import { createUser, ensureAdmin, setUserDisabled } from './users';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('signin');
});
afterAll(async () => {
  await t?.drop();
});

const attempt = (email: string, password: string, limiter: SignInLimiter = memorySignInLimiter()) =>
  signIn(t.db, { email, password, clientAddress: '203.0.113.7', sessionHours: 1, limiter });

async function auditFor(email: string) {
  return t.db.select().from(auditLog).where(eq(auditLog.actorLabel, email)).orderBy(auditLog.id);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e instanceof DomainError ? `${e.status} ${e.code}: ${e.message}` : `unexpected ${String(e)}`;
  }
}

describe('accounts', () => {
  it('stores argon2id hashes and refuses bad accounts with clear errors', async () => {
    const u = await createUser(t.db, { email: ' Alice@Example.test ', password: 'long enough', role: 'user' });
    expect(u.email).toBe('alice@example.test');
    const [row] = await t.db.select().from(users).where(eq(users.id, u.id));
    expect(row!.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await codeOf(createUser(t.db, { email: 'alice@example.test', password: 'long enough', role: 'user' }))).toMatch(/^409 CONFLICT: .*already exists/);
    expect(await codeOf(createUser(t.db, { email: 'not-an-email', password: 'long enough', role: 'user' }))).toMatch(/^400 .*email/);
    expect(await codeOf(createUser(t.db, { email: 'b@example.test', password: 'short', role: 'user' }))).toMatch(/^400 .*at least 8/);
    expect(await codeOf(createUser(t.db, { email: 'b@example.test', password: 'long enough', role: 'root' }))).toMatch(/^400 .*Unknown role "root"/);
  });

  it('creates the first admin once, with a one-time password when none is configured', async () => {
    const first = await ensureAdmin(t.db, {});
    expect(first).toMatchObject({ created: true, email: 'admin@localhost' });
    expect(first.oneTimePassword!.length).toBeGreaterThanOrEqual(20);
    const again = await ensureAdmin(t.db, { ENCLAVE_ADMIN_EMAIL: 'other@example.test', ENCLAVE_ADMIN_PASSWORD: 'configured-pass' });
    expect(again).toEqual({ created: false, email: 'admin@localhost' });
    const { user } = await attempt('admin@localhost', first.oneTimePassword!);
    expect(user.role).toBe('admin');
  });
});

describe('sign-in', () => {
  it('opens a session stored only as a hash, and audits the success with the client address', async () => {
    await createUser(t.db, { email: 'bob@example.test', password: 'bob-password', role: 'engineer' });
    const { user, token, expiresAt } = await attempt('BOB@example.test', 'bob-password');
    expect(user).toMatchObject({ email: 'bob@example.test', role: 'engineer' });
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now() + 59 * 60_000);
    const stored = await t.db.select().from(sessions).where(eq(sessions.userId, user.id));
    expect(stored.map((s) => s.tokenHash)).toEqual([hashSessionToken(token)]);
    expect(JSON.stringify(stored)).not.toContain(token);
    expect((await getUserByToken(t.db, token))?.id).toBe(user.id);
    const rows = await auditFor('bob@example.test');
    expect(rows.map((r) => [r.action, r.outcome, r.actorUserId, r.clientAddress])).toEqual([['auth.signIn', 'success', user.id, '203.0.113.7']]);
  });

  it('gives one answer for a wrong password, an unknown email and a disabled account, and audits each', async () => {
    const carol = await createUser(t.db, { email: 'carol@example.test', password: 'carol-password', role: 'user' });
    await createUser(t.db, { email: 'dave@example.test', password: 'dave-password', role: 'user' });
    await setUserDisabled(t.db, (await t.db.select().from(users).where(eq(users.email, 'dave@example.test')))[0]!.id, true);
    const wrong = await codeOf(attempt('carol@example.test', 'not-her-password'));
    const unknown = await codeOf(attempt('nobody@example.test', 'whatever-password'));
    const disabled = await codeOf(attempt('dave@example.test', 'dave-password'));
    expect(wrong).toBe('401 UNAUTHORIZED: Wrong email or password');
    expect(unknown).toBe(wrong);
    expect(disabled).toBe(wrong);
    const carolRows = await auditFor('carol@example.test');
    expect(carolRows.map((r) => [r.outcome, r.actorUserId, r.detail])).toEqual([['failure', carol.id, { reason: 'wrong-password' }]]);
    expect((await auditFor('nobody@example.test')).map((r) => [r.outcome, r.actorUserId, r.detail])).toEqual([['failure', null, { reason: 'unknown-email' }]]);
    expect((await auditFor('dave@example.test')).map((r) => r.outcome)).toEqual(['failure']);
  });

  it('spends a full password check on unknown emails, so timing does not reveal accounts', async () => {
    await createUser(t.db, { email: 'erin@example.test', password: 'erin-password', role: 'user' });
    await codeOf(attempt('nobody2@example.test', 'warm-up-the-decoy'));
    const time = async (email: string) => {
      const samples: number[] = [];
      for (let i = 0; i < 3; i++) {
        const start = performance.now();
        await codeOf(attempt(email, 'wrong-password'));
        samples.push(performance.now() - start);
      }
      return samples.sort((a, b) => a - b)[1]!;
    };
    const known = await time('erin@example.test');
    const unknown = await time('nobody3@example.test');
    // An argon2 verify dominates both; without the decoy verify an unknown email answers in ~1 ms.
    expect(unknown).toBeGreaterThan(known * 0.4);
  });

  it('limits failed sign-ins per account, even with the right password afterwards, and gives one answer for unknown accounts', async () => {
    await createUser(t.db, { email: 'frank@example.test', password: 'frank-password', role: 'user' });
    const limiter = memorySignInLimiter({ accountFree: 3, addressFree: 100, baseDelayMs: 60_000, maxDelayMs: 60_000, forgetAfterMs: 60_000, globalPerMinute: 1000 });
    // The fourth counted attempt is still checked; it starts the wait.
    for (let i = 0; i < 4; i++) expect(await codeOf(attempt('frank@example.test', `guess-${i}-xx`, limiter))).toMatch(/^401/);
    const locked = await codeOf(attempt('frank@example.test', 'frank-password', limiter));
    expect(locked).toMatch(/^429 TOO_MANY_REQUESTS: Too many failed sign-ins for this account: try again in 60 s/);
    // Per account, not per address: another address waits too.
    const elsewhere = await codeOf(signIn(t.db, { email: 'frank@example.test', password: 'frank-password', clientAddress: '198.51.100.1', sessionHours: 1, limiter }));
    expect(elsewhere).toBe(locked);
    // An email nobody has is limited the same way, with the same words.
    for (let i = 0; i < 4; i++) await codeOf(attempt('nobody4@example.test', `guess-${i}-xx`, limiter));
    expect(await codeOf(attempt('nobody4@example.test', 'anything-at-all', limiter))).toBe(locked);
    const outcomes = (await auditFor('frank@example.test')).map((r) => r.outcome);
    expect(outcomes).toEqual(['failure', 'failure', 'failure', 'failure', 'denied', 'denied']);
  });

  it('reads an expired session as nobody', async () => {
    const u = await createUser(t.db, { email: 'gina@example.test', password: 'gina-password', role: 'viewer' });
    const { token } = await createSession(t.db, u.id, { hours: 1 });
    expect((await getUserByToken(t.db, token))?.email).toBe('gina@example.test');
    await t.db.update(sessions).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(sessions.tokenHash, hashSessionToken(token)));
    expect(await getUserByToken(t.db, token)).toBeNull();
    expect(await getUserByToken(t.db, 'x'.repeat(43))).toBeNull();
    expect(await getUserByToken(t.db, "'; DROP TABLE users; --")).toBeNull();
  });
});

