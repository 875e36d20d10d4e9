import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { users } from '../db/schema';
import { writeAudit } from './audit';
import { DomainError } from './errors';
import { MAX_PASSWORD_LENGTH, verifyPassword } from './passwords';
import { FailureLimiter } from './rate-limit';
import { createSession, type SessionUser } from './sessions';
import { normalizeEmail } from './users';

/** Process-wide: 10 failed sign-ins per email and address in 15 minutes. */
export const signInLimiter = new FailureLimiter(10, 15 * 60_000);

export interface SignInResult {
  user: SessionUser;
  token: string;
  expiresAt: Date;
}

/**
 * Checks the password and opens a session. Every attempt writes an audit row with the email tried.
 * Unknown emails, wrong passwords and disabled accounts give one message and cost one argon2 verify
 * each, so neither the answer nor its timing reveals which accounts exist.
 */
export async function signIn(
  db: Db,
  input: { email: string; password: string; clientAddress: string; sessionHours: number; limiter?: FailureLimiter },
): Promise<SignInResult> {
  const limiter = input.limiter ?? signInLimiter;
  const email = normalizeEmail(input.email).slice(0, 254);
  const limitKey = `${email}|${input.clientAddress}`;
  const audit = (outcome: 'success' | 'failure' | 'denied', actorUserId?: string, reason?: string) =>
    writeAudit(db, { actorUserId, actorLabel: email, action: 'auth.signIn', clientAddress: input.clientAddress, outcome, detail: reason ? { reason } : {} });

  const waitMs = limiter.retryAfterMs(limitKey);
  if (waitMs > 0) {
    await audit('denied', undefined, 'rate-limited');
    throw new DomainError('TOO_MANY_REQUESTS', `Too many failed sign-ins: try again in ${Math.ceil(waitMs / 60_000)} minute(s)`);
  }
  const [row] = await db.select().from(users).where(eq(users.email, email));
  const password = input.password.slice(0, MAX_PASSWORD_LENGTH);
  const ok = await verifyPassword(row?.passwordHash, password);
  if (!ok || !row || row.disabled) {
    limiter.recordFailure(limitKey);
    await audit('failure', row?.id, !row ? 'unknown-email' : row.disabled && ok ? 'disabled' : 'wrong-password');
    throw new DomainError('UNAUTHORIZED', 'Wrong email or password');
  }
  limiter.reset(limitKey);
  const session = await createSession(db, row.id, { hours: input.sessionHours, clientAddress: input.clientAddress });
  await audit('success', row.id);
  return {
    user: { id: row.id, email: row.email, name: row.name, role: row.role as SessionUser['role'], locale: row.locale },
    ...session,
  };
}
