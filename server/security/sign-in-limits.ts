import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * How guessing passwords is slowed. Every attempt is reserved (counted as failed) BEFORE the password
 * is checked, atomically, so a burst of concurrent guesses cannot all slip past the count; a right
 * password gives the attempt back. Three counters must all allow it:
 * - per account (the email tried, whether or not it exists, across every address): a few free tries,
 *   then a wait that doubles with each further failure;
 * - per client address (across every account: spraying one password over many emails): more free tries
 *   (several people may share an office's address), then the same doubling wait;
 * - per install: at most `globalPerMinute` attempts a minute, against many addresses guessing many
 *   accounts at once.
 * Counts are forgotten after a quiet `forgetAfterMs`. Unknown accounts are counted like real ones, so
 * the limits reveal nothing about which emails exist.
 */
export interface SignInLimitSettings {
  accountFree: number;
  addressFree: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetAfterMs: number;
  globalPerMinute: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimitSettings = {
  accountFree: 5,
  addressFree: 20,
  baseDelayMs: 1_000,
  maxDelayMs: 15 * 60_000,
  forgetAfterMs: 15 * 60_000,
  globalPerMinute: 300,
};

export type LimitScope = 'account' | 'address' | 'global';
export interface Reservation {
  account: string;
  address: string;
}
export type ReserveResult = { ok: true; reservation: Reservation } | { ok: false; retryAfterMs: number; scope: LimitScope };

export interface SignInLimiter {
  reserve(email: string, address: string): Promise<ReserveResult>;
  /** The password was right: the account starts over; the address and the install get the attempt back. */
  succeeded(reservation: Reservation): Promise<void>;
}

/** The wait after the `fails`-th counted attempt. */
export function delayAfter(fails: number, free: number, s: SignInLimitSettings): number {
  return fails <= free ? 0 : Math.min(s.maxDelayMs, s.baseDelayMs * 2 ** (fails - free - 1));
}

/** Emails are kept as hashes: the limiter's state must not become a list of who tried what. */
function accountId(email: string): string {
  return createHash('sha256').update(email).digest('hex').slice(0, 32);
}

// KEYS: account, address, global. ARGV: now, accountFree, addressFree, baseMs, maxMs, forgetMs, globalPerMinute.
const RESERVE = `
local now = tonumber(ARGV[1])
local function waitOf(k)
  local nxt = tonumber(redis.call('HGET', k, 'next') or '0')
  if nxt > now then return nxt - now end
  return 0
end
local w = waitOf(KEYS[1])
if w > 0 then return {0, w, 'account'} end
w = waitOf(KEYS[2])
if w > 0 then return {0, w, 'address'} end
local g = tonumber(redis.call('GET', KEYS[3]) or '0')
if g >= tonumber(ARGV[7]) then return {0, math.max(redis.call('PTTL', KEYS[3]), 1), 'global'} end
local function bump(k, free)
  local fails = redis.call('HINCRBY', k, 'fails', 1)
  local delay = 0
  if fails > free then delay = math.min(tonumber(ARGV[5]), tonumber(ARGV[4]) * (2 ^ (fails - free - 1))) end
  redis.call('HSET', k, 'next', math.floor(now + delay))
  redis.call('PEXPIRE', k, math.floor(math.max(tonumber(ARGV[6]), delay)))
end
bump(KEYS[1], tonumber(ARGV[2]))
bump(KEYS[2], tonumber(ARGV[3]))
if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], 60000) end
return {1, 0, ''}
`;

// KEYS: account, address, global.
const SUCCEEDED = `
redis.call('DEL', KEYS[1])
if redis.call('HINCRBY', KEYS[2], 'fails', -1) <= 0 then redis.call('DEL', KEYS[2]) end
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then redis.call('DECR', KEYS[3]) end
return 1
`;

/** The limiter every web process shares, in Redis (one script per attempt, so reservations are atomic). */
export function redisSignInLimiter(client: Redis, prefix: string, s = DEFAULT_SIGN_IN_LIMITS, now: () => number = Date.now): SignInLimiter {
  const keys = (r: Reservation) => [`${prefix}:signin:account:${r.account}`, `${prefix}:signin:address:${r.address}`, `${prefix}:signin:global`];
  return {
    async reserve(email, address) {
      const reservation = { account: accountId(email), address };
      const [ok, wait, scope] = (await client.eval(
        RESERVE,
        3,
        ...keys(reservation),
        now(),
        s.accountFree,
        s.addressFree,
        s.baseDelayMs,
        s.maxDelayMs,
        s.forgetAfterMs,
        s.globalPerMinute,
      )) as [number, number, string];
      return ok === 1 ? { ok: true, reservation } : { ok: false, retryAfterMs: Number(wait), scope: scope as LimitScope };
    },
    async succeeded(reservation) {
      await client.eval(SUCCEEDED, 3, ...keys(reservation));
    },
  };
}

/** The same rules in this process's memory: what the web role falls back to while Redis is away. */
export function memorySignInLimiter(s = DEFAULT_SIGN_IN_LIMITS, now: () => number = Date.now): SignInLimiter {
  const counters = new Map<string, { fails: number; next: number; forgetAt: number }>();
  let global = { count: 0, resetAt: 0 };
  const MAX_KEYS = 100_000;

  function read(key: string) {
    const c = counters.get(key);
    if (c && c.forgetAt <= now()) {
      counters.delete(key);
      return undefined;
    }
    return c;
  }
  function bump(key: string, free: number) {
    const c = read(key) ?? { fails: 0, next: 0, forgetAt: 0 };
    c.fails++;
    const delay = delayAfter(c.fails, free, s);
    c.next = now() + delay;
    c.forgetAt = now() + Math.max(s.forgetAfterMs, delay);
    // Bounded against a flood of distinct addresses: the oldest entry goes first.
    if (!counters.has(key) && counters.size >= MAX_KEYS) counters.delete(counters.keys().next().value!);
    counters.set(key, c);
  }
  return {
    async reserve(email, address) {
      const reservation = { account: accountId(email), address };
      const t = now();
      for (const [key, scope] of [[`a:${reservation.account}`, 'account'], [`i:${address}`, 'address']] as const) {
        const c = read(key);
        if (c && c.next > t) return { ok: false, retryAfterMs: c.next - t, scope };
      }
      if (global.resetAt <= t) global = { count: 0, resetAt: t + 60_000 };
      if (global.count >= s.globalPerMinute) return { ok: false, retryAfterMs: global.resetAt - t, scope: 'global' };
      bump(`a:${reservation.account}`, s.accountFree);
      bump(`i:${address}`, s.addressFree);
      global.count++;
      return { ok: true, reservation };
    },
    async succeeded(reservation) {
      counters.delete(`a:${reservation.account}`);
      const address = read(`i:${reservation.address}`);
      if (address && --address.fails <= 0) counters.delete(`i:${reservation.address}`);
      if (global.count > 0) global.count--;
    },
  };
}

/** Redis when it answers, this process's memory when it does not: guessing is never left unlimited. */
export function resilientSignInLimiter(primary: SignInLimiter, fallback: SignInLimiter): SignInLimiter {
  const used = new WeakMap<Reservation, SignInLimiter>();
  return {
    async reserve(email, address) {
      let limiter = primary;
      let result: ReserveResult;
      try {
        result = await primary.reserve(email, address);
      } catch {
        limiter = fallback;
        result = await fallback.reserve(email, address);
      }
      if (result.ok) used.set(result.reservation, limiter);
      return result;
    },
    async succeeded(reservation) {
      await (used.get(reservation) ?? primary).succeeded(reservation).catch(() => {});
    },
  };
}
