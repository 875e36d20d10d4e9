import { randomBytes } from 'node:crypto';
import { and, desc, eq, notInArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import type { DbOrTx } from '../db/types';
import { passwordHistory, users } from '../db/schema';
import { DomainError } from '../core/errors';
import { hashPassword, MAX_PASSWORD_LENGTH, verifyPassword } from './passwords';
import { checkPasswordPolicy, type PasswordPolicy } from './password-policy';
import { revokeUserSessions } from './sessions';
import type { SignInLimiter } from './sign-in-limits';

/** Accounts another system signs in (LDAP, later OIDC) have no password here to change or reset. */
function assertLocal(user: { authSource: string }): void {
  if (user.authSource !== 'local')
    throw new DomainError('CONFLICT', `This account signs in through ${user.authSource.toUpperCase()}: its password is changed in the directory, not here`);
}

/** 24 random characters (144 bits): what the first start, the CLI and an admin's reset hand out. */
export function generateOneTimePassword(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * Stores a new password hash for a user and remembers it in the history, keeping the `keep` newest
 * entries (at least the current one, so the next change can compare against it).
 */
export async function storePassword(db: DbOrTx, userId: string, passwordHash: string, opts: { mustChange: boolean; keep: number }): Promise<void> {
  await db
    .update(users)
    .set({ passwordHash, mustChangePassword: opts.mustChange, passwordChangedAt: sql`now()` })
    .where(eq(users.id, userId));
  await db.insert(passwordHistory).values({ userId, passwordHash });
  const newest = db
    .select({ id: passwordHistory.id })
    .from(passwordHistory)
    .where(eq(passwordHistory.userId, userId))
    .orderBy(desc(passwordHistory.createdAt), desc(passwordHistory.id))
    .limit(Math.max(1, opts.keep));
  await db.delete(passwordHistory).where(and(eq(passwordHistory.userId, userId), notInArray(passwordHistory.id, newest)));
}

/** True when the password is the current one or one of the last `history` (hashes compared one by one: argon2 salts each). */
async function isReused(db: DbOrTx, userId: string, currentHash: string, password: string, history: number): Promise<boolean> {
  if (await verifyPassword(currentHash, password)) return true;
  if (history === 0) return false;
  const earlier = await db
    .select({ passwordHash: passwordHistory.passwordHash })
    .from(passwordHistory)
    .where(eq(passwordHistory.userId, userId))
    .orderBy(desc(passwordHistory.createdAt), desc(passwordHistory.id))
    .limit(history);
  for (const { passwordHash } of earlier) if (await verifyPassword(passwordHash, password)) return true;
  return false;
}

export interface ChangePasswordInput {
  userId: string;
  currentPassword: string;
  newPassword: string;
  /** The session making the change stays; every other one of the user ends. */
  sessionId: string;
  clientAddress: string;
  policy: PasswordPolicy;
  /** Guessing the current password through a stolen session is slowed like guessing at sign-in. */
  limiter: SignInLimiter;
}

/**
 * A person changes their own password: the current one is required (a session left open is not
 * enough), the new one must pass the policy and differ from the last N. Other sessions end.
 */
export async function changePassword(db: Db, input: ChangePasswordInput): Promise<{ revokedSessions: number }> {
  const [user] = await db.select().from(users).where(eq(users.id, input.userId));
  if (!user) throw new DomainError('NOT_FOUND', 'No such user');
  assertLocal(user);
  const reserved = await input.limiter.reserve(user.email, input.clientAddress);
  if (!reserved.ok) throw new DomainError('TOO_MANY_REQUESTS', 'Too many wrong passwords: try again later');
  if (!(await verifyPassword(user.passwordHash, input.currentPassword.slice(0, MAX_PASSWORD_LENGTH))))
    throw new DomainError('BAD_REQUEST', 'currentPassword: this is not your current password');
  await input.limiter.succeeded(reserved.reservation);

  checkPasswordPolicy(input.newPassword, user.email, input.policy);
  if (await isReused(db, user.id, user.passwordHash, input.newPassword, input.policy.history))
    throw new DomainError('BAD_REQUEST', `newPassword: must differ from your last ${Math.max(1, input.policy.history)} passwords`);

  const passwordHash = await hashPassword(input.newPassword);
  await storePassword(db, user.id, passwordHash, { mustChange: false, keep: input.policy.history });
  return { revokedSessions: await revokeUserSessions(db, user.id, input.sessionId) };
}

/**
 * An admin resets someone's password: a new one-time password (returned once, stored only hashed),
 * to be changed at the next sign-in; every session of that user ends at once.
 */
export async function resetPassword(db: Db, userId: string, policy: Pick<PasswordPolicy, 'history'>): Promise<{ oneTimePassword: string; revokedSessions: number }> {
  const [user] = await db.select({ id: users.id, authSource: users.authSource }).from(users).where(eq(users.id, userId));
  if (!user) throw new DomainError('NOT_FOUND', 'No such user');
  assertLocal(user);
  const oneTimePassword = generateOneTimePassword();
  await storePassword(db, userId, await hashPassword(oneTimePassword), { mustChange: true, keep: policy.history });
  return { oneTimePassword, revokedSessions: await revokeUserSessions(db, userId) };
}
