import { timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { users, type Role } from '../db/schema';
import { authenticateApiKey, hashApiKey, looksLikeApiKey } from '../security/api-keys';
import { internalToken } from '../security/master-key';
import { GatewayError } from './errors';

/** Who is calling: an API key's owner, or a signed-in user on whose behalf the web role calls. */
export interface Caller {
  /** null when the web role calls with the internal token. */
  keyId: string | null;
  userId: string;
  role: Role;
  /** null: every model the role may use. */
  models: string[] | null;
  /** ms since epoch; a cached key still stops working the moment it expires. */
  expiresAt: number | null;
}

type Verdict = { caller: Caller } | { reason: string };
interface Entry {
  verdict: Verdict | Promise<Verdict>;
  until: number;
  refreshing?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_ENTRIES = 50_000;

/**
 * Authenticates each request without a database query on the hot path: answers (good and bad) are cached
 * for `ttlMs`, so a revoked key or a disabled user stops working within that time. Concurrent first
 * requests for one key share a single lookup.
 */
export function createAuthenticator(db: Db, masterKey: Buffer, ttlMs = 5_000) {
  const internal = Buffer.from(`Bearer ${internalToken(masterKey)}`);
  const keys = new Map<string, Entry>();
  const internalUsers = new Map<string, Entry>();

  function cached(map: Map<string, Entry>, id: string, load: () => Promise<Verdict>): Verdict | Promise<Verdict> {
    const now = Date.now();
    const hit = map.get(id);
    if (hit && hit.until > now) return hit.verdict;
    // Stale but settled: answer from it and reload in the background, so no request waits on the
    // database for a key it has used before (a revocation still lands within ttl + one query).
    if (hit && !(hit.verdict instanceof Promise) && !hit.refreshing) {
      hit.refreshing = true;
      load().then(
        (v) => map.set(id, { verdict: v, until: Date.now() + ttlMs }),
        // The database is away: keep answering from what is known, and try again on the next request.
        () => (hit.refreshing = false),
      );
      return hit.verdict;
    }
    if (hit?.refreshing) return hit.verdict;
    if (map.size >= MAX_ENTRIES) map.clear();
    const pending = load().then(
      (v) => {
        map.set(id, { verdict: v, until: Date.now() + ttlMs });
        return v;
      },
      (err) => {
        map.delete(id);
        throw err;
      },
    );
    map.set(id, { verdict: pending, until: now + ttlMs });
    return pending;
  }

  async function loadKey(key: string): Promise<Verdict> {
    const r = await authenticateApiKey(db, key);
    if (!r.ok) return { reason: r.reason };
    return {
      caller: { keyId: r.keyId, userId: r.userId, role: r.role, models: r.models, expiresAt: r.expiresAt?.getTime() ?? null },
    };
  }

  async function loadUser(userId: string): Promise<Verdict> {
    const [row] = await db.select({ role: users.role, disabled: users.disabled }).from(users).where(eq(users.id, userId)).limit(1);
    if (!row) return { reason: 'unknown_user' };
    if (row.disabled) return { reason: 'user_disabled' };
    return { caller: { keyId: null, userId, role: row.role as Role, models: null, expiresAt: null } };
  }

  function isInternal(header: string): boolean {
    if (header.length !== internal.length) return false;
    const given = Buffer.from(header);
    return given.length === internal.length && timingSafeEqual(given, internal);
  }

  function check(verdict: Verdict): Caller {
    if ('reason' in verdict) throw unauthorized(messageFor(verdict.reason), 'invalid_api_key');
    const { caller } = verdict;
    if (caller.expiresAt !== null && caller.expiresAt <= Date.now()) throw unauthorized('This API key has expired', 'invalid_api_key');
    return caller;
  }

  return {
    /**
     * The caller, synchronously when the answer is cached (the common case: no promise on the hot path),
     * else a promise. Throws (or rejects with) a 401 GatewayError.
     */
    authenticate(authorization: string | undefined, onBehalfOf: string | string[] | undefined): Caller | Promise<Caller> {
      if (!authorization) throw unauthorized('Missing API key: send it as "Authorization: Bearer <key>"', 'missing_api_key');
      let verdict: Verdict | Promise<Verdict>;
      if (isInternal(authorization)) {
        if (typeof onBehalfOf !== 'string' || !UUID.test(onBehalfOf))
          throw unauthorized('The internal token needs a valid x-enclave-user-id header', 'invalid_api_key');
        const userId = onBehalfOf.toLowerCase();
        verdict = cached(internalUsers, userId, () => loadUser(userId));
      } else {
        const key = authorization.startsWith('Bearer ') ? authorization.slice(7).trim() : '';
        if (!looksLikeApiKey(key)) throw unauthorized('Invalid API key', 'invalid_api_key');
        verdict = cached(keys, hashApiKey(key), () => loadKey(key));
      }
      return verdict instanceof Promise ? verdict.then(check) : check(verdict);
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;

function messageFor(reason: string): string {
  switch (reason) {
    case 'revoked':
      return 'This API key has been revoked';
    case 'expired':
      return 'This API key has expired';
    case 'user_disabled':
      return 'The account this key belongs to is disabled';
    case 'unknown_user':
      return 'Unknown user';
    default:
      return 'Invalid API key';
  }
}

function unauthorized(message: string, code: string): GatewayError {
  return new GatewayError(401, 'authentication_error', code, message);
}
