import { timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { users, type Role } from '../db/schema';
import { authenticateApiKey, hashApiKey, looksLikeApiKey } from '../security/api-keys';
import { groupIdsOf } from '../security/groups/membership';
import type { CredentialChange } from '../security/credential-events';
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
  /** Requests in flight at once; null: the gateway's default, 0: no cap. */
  maxConcurrent: number | null;
  /** The account's groups (any source): what group grants and group quotas are checked against. */
  groups: string[];
}

type Verdict = { caller: Caller } | { reason: string };
interface Entry {
  verdict: Verdict | Promise<Verdict>;
  until: number;
  refreshing?: boolean;
}

/** While changes may be missed (no subscription), a cached answer is trusted this long at most. */
const UNSUBSCRIBED_TTL_MS = 1_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_ENTRIES = 50_000;

/**
 * Authenticates each request without a database query on the hot path: answers (good and bad) are cached
 * for `ttlMs`. Revoking a key, or disabling a user or changing their role, is announced over Redis
 * (credential-events.ts): every gateway drops what it cached about them at once, so the change applies
 * within a moment while other keys stay cached. While that subscription is down (`subscribed()` false)
 * answers are trusted for a second at most and never served stale. Concurrent first requests for one
 * key share a single lookup.
 */
export function createAuthenticator(db: Db, masterKey: Buffer, ttlMs = 5_000, subscribed: () => boolean = () => false) {
  const internal = Buffer.from(`Bearer ${internalToken(masterKey)}`);
  const keys = new Map<string, Entry>();
  const internalUsers = new Map<string, Entry>();
  // Bumped by every announced change: a lookup that started before one may have read the old row, and
  // is not cached (nor answered) from.
  let generation = 0;

  function lifetime(): number {
    return subscribed() ? ttlMs : Math.min(ttlMs, UNSUBSCRIBED_TTL_MS);
  }

  /** load(), read again when a change was announced while it ran. */
  async function fresh(load: () => Promise<Verdict>): Promise<Verdict> {
    for (let tries = 0; ; tries++) {
      const started = generation;
      const v = await load();
      if (started === generation || tries >= 2) return v;
    }
  }

  function cached(map: Map<string, Entry>, id: string, load: () => Promise<Verdict>): Verdict | Promise<Verdict> {
    const now = Date.now();
    const hit = map.get(id);
    if (hit && hit.until > now) return hit.verdict;
    // Stale but settled: answer from it and reload in the background, so no request waits on the
    // database for a key it has used before. Only while changes are heard of: otherwise a revoked key
    // could be served from a stale answer.
    if (hit && subscribed() && !(hit.verdict instanceof Promise) && !hit.refreshing) {
      hit.refreshing = true;
      const started = generation;
      fresh(load).then(
        (v) => {
          if (started === generation) map.set(id, { verdict: v, until: Date.now() + lifetime() });
          else hit.refreshing = false;
        },
        // The database is away: keep answering from what is known, and try again on the next request.
        () => (hit.refreshing = false),
      );
      return hit.verdict;
    }
    if (hit?.refreshing && subscribed()) return hit.verdict;
    if (map.size >= MAX_ENTRIES) map.clear();
    const started = generation;
    const pending = fresh(load).then(
      (v) => {
        if (started === generation && map.get(id)?.verdict === pending) map.set(id, { verdict: v, until: Date.now() + lifetime() });
        return v;
      },
      (err) => {
        if (map.get(id)?.verdict === pending) map.delete(id);
        throw err;
      },
    );
    map.set(id, { verdict: pending, until: now + lifetime() });
    return pending;
  }

  /** Drops what is cached about a changed key or user (everything, when changes may have been missed). */
  function forget(change: CredentialChange): void {
    generation++;
    if (change.all) {
      keys.clear();
      internalUsers.clear();
      return;
    }
    if (change.userId) internalUsers.delete(change.userId);
    for (const [hash, entry] of keys) {
      const v = entry.verdict;
      // A lookup in flight may have read the row before the change: drop it too.
      if (v instanceof Promise) keys.delete(hash);
      else if ('caller' in v && (v.caller.keyId === change.keyId || v.caller.userId === change.userId)) keys.delete(hash);
    }
  }

  async function loadKey(key: string): Promise<Verdict> {
    const r = await authenticateApiKey(db, key);
    if (!r.ok) return { reason: r.reason };
    const groups = await groupIdsOf(db, r.userId);
    return {
      caller: { keyId: r.keyId, userId: r.userId, role: r.role, models: r.models, expiresAt: r.expiresAt?.getTime() ?? null, maxConcurrent: r.maxConcurrent, groups },
    };
  }

  async function loadUser(userId: string): Promise<Verdict> {
    const [row] = await db.select({ role: users.role, disabled: users.disabled }).from(users).where(eq(users.id, userId)).limit(1);
    if (!row) return { reason: 'unknown_user' };
    if (row.disabled) return { reason: 'user_disabled' };
    return { caller: { keyId: null, userId, role: row.role as Role, models: null, expiresAt: null, maxConcurrent: null, groups: await groupIdsOf(db, userId) } };
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
    forget,
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
