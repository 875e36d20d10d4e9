import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { and, desc, eq, gt, lt, lte, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { sessions, users, type Role } from '../db/schema';
import { readCookie, SESSION_COOKIE } from './cookies';

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  locale: string;
  /** Signed in with a one-time password: nothing but changing it (and signing out) is allowed. */
  mustChangePassword?: boolean;
  /** The session this request came with (see listSessions). */
  sessionId?: string;
}

/** Only the hash is stored: a database dump cannot be replayed as a session. */
export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function createSession(
  db: Db,
  userId: string,
  { hours, clientAddress, userAgent }: { hours: number; clientAddress?: string; userAgent?: string },
): Promise<{ token: string; expiresAt: Date; sessionId: string }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + hours * 3600_000);
  const [row] = await db
    .insert(sessions)
    .values({ tokenHash: hashSessionToken(token), userId, expiresAt, clientAddress, userAgent: userAgent?.slice(0, 400) })
    .returning({ id: sessions.id });
  return { token, expiresAt, sessionId: row!.id };
}

// "Last seen" is for people reading the session list: one write a minute per session is plenty.
const TOUCH_EVERY_MS = 60_000;

// A session token is 43 base64url characters; anything else is not worth a query.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The signed-in user for a session token: unknown, expired, revoked and disabled all read as nobody.
 * Read from the database on every request, so a session revoked anywhere ends at once on every process.
 */
export async function getUserByToken(db: Db, token: string | undefined): Promise<SessionUser | null> {
  if (!token || !TOKEN_SHAPE.test(token)) return null;
  const tokenHash = hashSessionToken(token);
  const [row] = await db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      role: users.role,
      locale: users.locale,
      mustChangePassword: users.mustChangePassword,
      sessionId: sessions.id,
      lastSeenAt: sessions.lastSeenAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, new Date()), eq(users.disabled, false)));
  if (!row) return null;
  const { lastSeenAt, ...user } = row;
  if (Date.now() - lastSeenAt.getTime() > TOUCH_EVERY_MS) {
    await db
      .update(sessions)
      .set({ lastSeenAt: sql`now()` })
      .where(and(eq(sessions.tokenHash, tokenHash), lt(sessions.lastSeenAt, new Date(Date.now() - TOUCH_EVERY_MS))));
  }
  return { ...user, role: user.role as Role };
}

export interface SessionInfo {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  clientAddress: string | null;
  userAgent: string | null;
  /** The session the request listing them came with. */
  current: boolean;
}

/** A person's live sessions, most recently seen first. */
export async function listSessions(db: Db, userId: string, currentSessionId?: string): Promise<SessionInfo[]> {
  const rows = await db
    .select({
      id: sessions.id,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      expiresAt: sessions.expiresAt,
      clientAddress: sessions.clientAddress,
      userAgent: sessions.userAgent,
    })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), gt(sessions.expiresAt, new Date())))
    .orderBy(desc(sessions.lastSeenAt))
    .limit(500);
  return rows.map((r) => ({ ...r, current: r.id === currentSessionId }));
}

/** Ends one session of `userId` (null: of anyone, for admins); false when there is no such session of theirs. */
export async function revokeSession(db: Db, sessionId: string, userId: string | null): Promise<boolean> {
  const gone = await db
    .delete(sessions)
    .where(userId ? and(eq(sessions.id, sessionId), eq(sessions.userId, userId)) : eq(sessions.id, sessionId))
    .returning({ id: sessions.id });
  return gone.length > 0;
}

/** Ends every session of a user but the one kept (the caller's own, after changing their password). */
export async function revokeUserSessions(db: Db, userId: string, keepSessionId?: string): Promise<number> {
  const gone = await db
    .delete(sessions)
    .where(keepSessionId ? and(eq(sessions.userId, userId), sql`${sessions.id} <> ${keepSessionId}`) : eq(sessions.userId, userId))
    .returning({ id: sessions.id });
  return gone.length;
}

export function sessionToken(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  return readCookie(req, SESSION_COOKIE);
}

/**
 * The signed-in user of a plain HTTP route (uploads, downloads): a session still on its one-time
 * password reaches none of them, as it reaches no procedure but changing it (see trpc.ts).
 */
export async function getSessionUser(db: Db, req: Pick<IncomingMessage, 'headers'>): Promise<SessionUser | null> {
  const user = await getUserByToken(db, sessionToken(req));
  return user?.mustChangePassword ? null : user;
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
