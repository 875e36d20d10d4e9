import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { users } from '../db/schema';
import { env, type Env } from '../core/env';
import type { DbOrTx } from '../db/types';
import { redis } from '../core/redis';
import { writeAudit, type AuditEntry } from './audit';
import { auditRefusal } from './denial-audit';
import { DomainError } from '../core/errors';
import { MAX_PASSWORD_LENGTH, verifyPassword } from './passwords';
import { memorySignInLimiter, redisSignInLimiter, resilientSignInLimiter, type LimitScope, type SignInLimiter } from './sign-in-limits';
import { createSession, type SessionUser } from './sessions';
import { normalizeEmail } from './users';
import { ldapSettings, type LdapSettings } from './ldap/config';
import { ldapSignIn } from './ldap/accounts';
import { log } from '../core/log';

let shared: SignInLimiter | undefined;

/** The process's limiter: shared by every web process through Redis, this process's memory while Redis is away. */
export function signInLimiter(): SignInLimiter {
  shared ??= resilientSignInLimiter(redisSignInLimiter(redis(), env().REDIS_PREFIX), memorySignInLimiter());
  return shared;
}

export interface SignInResult {
  user: SessionUser;
  token: string;
  expiresAt: Date;
}

const WAIT_MESSAGE: Record<LimitScope, string> = {
  account: 'Too many failed sign-ins for this account',
  address: 'Too many failed sign-ins from this address',
  global: 'Too many failed sign-ins on this server',
};

function waitWords(ms: number): string {
  return ms < 60_000 ? `${Math.max(1, Math.ceil(ms / 1000))} s` : `${Math.ceil(ms / 60_000)} min`;
}

/**
 * Checks the password and opens a session. The attempt is reserved with the limiter before the slow
 * password check (see sign-in-limits.ts), so concurrent guesses are counted as they arrive. Unknown
 * emails, wrong passwords and disabled accounts give one message, cost one argon2 verify each and are
 * counted alike, so neither the answer, its timing nor the limits reveal which accounts exist. Every
 * checked attempt writes an audit row with the email tried; attempts refused by the limits are counted
 * and sampled (they cost an attacker nothing). A success's session and audit row commit together.
 */
export async function signIn(
  db: Db,
  input: { email: string; password: string; clientAddress: string; userAgent?: string; sessionHours: number; limiter?: SignInLimiter; ldap?: LdapSettings | null; passwordSignIn?: Env['ENCLAVE_PASSWORD_SIGNIN'] },
): Promise<SignInResult> {
  const limiter = input.limiter ?? signInLimiter();
  const email = normalizeEmail(input.email).slice(0, 254);
  const row = (outcome: 'success' | 'failure' | 'denied', actorUserId?: string, reason?: string) => ({
    actorUserId,
    actorLabel: email,
    action: 'auth.signIn',
    clientAddress: input.clientAddress,
    outcome,
    detail: reason ? { reason } : {},
  });

  const policy = input.passwordSignIn ?? env().ENCLAVE_PASSWORD_SIGNIN;
  if (policy === 'off') {
    // Refused before anything is checked: there is nothing to guess when passwords open nothing.
    await auditRefusal(db, { ...row('denied', undefined, 'password-signin-off'), reason: 'PASSWORD_SIGNIN_OFF' });
    throw new DomainError('FORBIDDEN', 'Password sign-in is turned off: use single sign-on');
  }
  const reserved = await limiter.reserve(email, input.clientAddress);
  if (!reserved.ok) {
    await auditRefusal(db, { ...row('denied', undefined, `rate-limited:${reserved.scope}`), reason: 'RATE_LIMITED' });
    throw new DomainError('TOO_MANY_REQUESTS', `${WAIT_MESSAGE[reserved.scope]}: try again in ${waitWords(reserved.retryAfterMs)}`);
  }
  const [local] = await db.select().from(users).where(eq(users.email, email));
  const password = input.password.slice(0, MAX_PASSWORD_LENGTH);
  // Local accounts are checked here; directory accounts, and logins no local account has, by LDAP when configured.
  const ldap = local && local.authSource !== 'ldap' ? null : input.ldap === undefined ? ldapSettings() : input.ldap;
  let found = local;
  if (ldap) {
    // The same argon2 cost as a local check, so timing does not tell local accounts from the others.
    await verifyPassword(undefined, password);
    const checked = await ldapSignIn(db, ldap, email, password);
    if (!checked.ok) {
      const unavailable = 'unavailable' in checked ? checked.unavailable : undefined;
      await writeAudit(db, { ...row('failure', checked.userId, checked.reason), ...(unavailable ? { detail: { reason: checked.reason, error: unavailable } } : {}) });
      if (unavailable) {
        log.warn('LDAP sign-in: the directory cannot be reached', { error: unavailable });
        throw new DomainError('SERVICE_UNAVAILABLE', 'The directory (LDAP) cannot be reached: try again later. Local accounts can still sign in.');
      }
      throw new DomainError('UNAUTHORIZED', 'Wrong email or password');
    }
    found = checked.user;
  } else {
    // An OIDC account has no password here (only a marker no hash matches); said as a wrong password.
    const ok = (await verifyPassword(local?.passwordHash, password)) && local?.authSource !== 'oidc';
    if (!ok || !local || local.disabled) {
      await writeAudit(db, row('failure', local?.id, !local ? 'unknown-email' : local.authSource === 'oidc' ? 'oidc-account' : local.disabled && ok ? 'disabled' : 'wrong-password'));
      throw new DomainError('UNAUTHORIZED', 'Wrong email or password');
    }
  }
  if (!found) throw new Error('unreachable: a sign-in with no account');
  if (policy === 'admins' && found.role !== 'admin') {
    // Said only after the right password, so the answer tells no one else which accounts are admins.
    await writeAudit(db, row('failure', found.id, 'password-signin-admins-only'));
    throw new DomainError('FORBIDDEN', 'Password sign-in is for administrators only: use single sign-on');
  }
  const session = await db.transaction((tx) => openSession(tx, found, { ...input, audit: row('success', found.id) }));
  await limiter.succeeded(reserved.reservation);
  return session;
}

/**
 * Opens a session for an account that has just proved who it is (a password, an OIDC provider), with
 * its 'auth.signIn' audit row, in the caller's transaction: both commit or neither does.
 */
export async function openSession(
  tx: DbOrTx,
  account: typeof users.$inferSelect,
  input: { clientAddress: string; userAgent?: string; sessionHours: number; audit: AuditEntry },
): Promise<SignInResult> {
  const { sessionId, ...opened } = await createSession(tx as unknown as Db, account.id, { hours: input.sessionHours, clientAddress: input.clientAddress, userAgent: input.userAgent });
  await writeAudit(tx, input.audit);
  return {
    user: { id: account.id, email: account.email, name: account.name, role: account.role as SessionUser['role'], locale: account.locale, mustChangePassword: account.mustChangePassword, sessionId },
    ...opened,
  };
}
