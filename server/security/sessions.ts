import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { and, eq, gt, lte } from 'drizzle-orm';
import type { Db } from '../db/client';
import { sessions, users, type Role } from '../db/schema';
import { readCookie, SESSION_COOKIE } from './cookies';

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  locale: string;
}

/** Only the hash is stored: a database dump cannot be replayed as a session. */
export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function createSession(
  db: Db,
  userId: string,
  { hours, clientAddress }: { hours: number; clientAddress?: string },
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + hours * 3600_000);
  await db.insert(sessions).values({ tokenHash: hashSessionToken(token), userId, expiresAt, clientAddress });
  return { token, expiresAt };
}

// A session token is 43 base64url characters; anything else is not worth a query.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** The signed-in user for a session token: unknown, expired and disabled all read as nobody. */
export async function getUserByToken(db: Db, token: string | undefined): Promise<SessionUser | null> {
  if (!token || !TOKEN_SHAPE.test(token)) return null;
  const [row] = await db
    .select({ id: users.id, email: users.email, name: users.name, role: users.role, locale: users.locale })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, hashSessionToken(token)), gt(sessions.expiresAt, new Date()), eq(users.disabled, false)));
  return row ? { ...row, role: row.role as Role } : null;
}

export function sessionToken(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  return readCookie(req, SESSION_COOKIE);
}

export function getSessionUser(db: Db, req: Pick<IncomingMessage, 'headers'>): Promise<SessionUser | null> {
  return getUserByToken(db, sessionToken(req));
}

export async function deleteSession(db: Db, token: string | undefined): Promise<void> {
  if (!token) return;
  await db.delete(sessions).where(eq(sessions.tokenHash, hashSessionToken(token)));
}

/** Removes expired rows; the maintenance job (or start) calls it now and then. */
export async function deleteExpiredSessions(db: Db): Promise<number> {
  const gone = await db.delete(sessions).where(lte(sessions.expiresAt, new Date())).returning({ h: sessions.tokenHash });
  return gone.length;
}
