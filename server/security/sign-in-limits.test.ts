import { randomBytes } from 'node:crypto';
import { and, eq, like } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { auditLog } from '../db/schema';
import { metricsRegistry } from '../core/metrics';
import { closeRedis } from '../core/redis';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { DomainError } from '../core/errors';
import { signIn } from './sign-in';
import { DEFAULT_SIGN_IN_LIMITS, delayAfter, memorySignInLimiter, redisSignInLimiter, resilientSignInLimiter, type SignInLimiter } from './sign-in-limits';
import { createUser } from './users';

// Guessing passwords as an attacker would: a burst from one address, one account from many addresses,
// one password sprayed over many accounts, and many addresses at once. The figures the issue asks for
// (how many guesses were checked) are printed.
const prefix = testRedisPrefix('signinlimits');
process.env.REDIS_PREFIX = prefix;
let t: TestDatabase;
let client: Redis;

beforeAll(async () => {
  t = await createTestDatabase('signinlimits');
  client = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  const keys = await client.keys(`${prefix}*`);
  if (keys.length) await client.del(...keys);
  client?.disconnect();
  await closeRedis();
  await t?.drop();
});

async function deniedCount(reason: string): Promise<number> {
  const metric = await metricsRegistry().getSingleMetric('enclave_anonymous_denials_total')?.get();
  return metric?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** Redis-backed, on a prefix of its own per test, so counts never leak between tests. */
const redisLimiter = (over: Partial<typeof DEFAULT_SIGN_IN_LIMITS> = {}, now?: () => number) =>
  redisSignInLimiter(client, `${prefix}:${randomBytes(3).toString('hex')}`, { ...DEFAULT_SIGN_IN_LIMITS, ...over }, now);

async function outcome(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    if (e instanceof DomainError) return e.status;
    throw e;
  }
}

const guess = (limiter: SignInLimiter, email: string, clientAddress: string, password = 'wrong-password') =>
  outcome(signIn(t.db, { email, password, clientAddress, sessionHours: 1, limiter }));

describe('per account, per address, per install', () => {
  it('waits double after the free tries, and forgets after a quiet spell', async () => {
    let now = 1_000_000;
    const limiter = redisLimiter({ accountFree: 2, addressFree: 100, baseDelayMs: 1_000, forgetAfterMs: 60_000 }, () => now);
    const reserve = () => limiter.reserve('a@example.test', '192.0.2.1');
    expect((await reserve()).ok).toBe(true);
    expect((await reserve()).ok).toBe(true);
    expect((await reserve()).ok).toBe(true); // the third is counted, and starts a 1 s wait
    expect(await reserve()).toEqual({ ok: false, retryAfterMs: 1_000, scope: 'account' });
    now += 1_000;
    expect((await reserve()).ok).toBe(true); // the fourth: 2 s
    expect(await reserve()).toEqual({ ok: false, retryAfterMs: 2_000, scope: 'account' });
    expect([3, 4, 5, 20, 40].map((n) => delayAfter(n, 2, DEFAULT_SIGN_IN_LIMITS))).toEqual([1_000, 2_000, 4_000, 15 * 60_000, 15 * 60_000]);
    // A right password starts the account over (and hands the address its attempt back).
    now += 2_000;
    const ok = await reserve();
    if (!ok.ok) throw new Error('expected a reservation');
    await limiter.succeeded(ok.reservation);
    expect((await reserve()).ok).toBe(true);
  });

  it('400 concurrent wrong guesses from one address: only the free tries are checked', async () => {
    await createUser(t.db, { email: 'burst@example.test', password: 'the-real-password', role: 'user' });
    const limiter = redisLimiter();
    const answers = await Promise.all(Array.from({ length: 400 }, () => guess(limiter, 'burst@example.test', '198.51.100.7')));
    const checked = answers.filter((s) => s === 401).length;
    console.log(`sign-in burst: 400 concurrent wrong guesses, ${checked} checked, ${answers.filter((s) => s === 429).length} refused before hashing`);
    expect(checked).toBe(DEFAULT_SIGN_IN_LIMITS.accountFree + 1);
    expect(answers.filter((s) => s === 429)).toHaveLength(400 - checked);
    const failures = await t.db.select().from(auditLog).where(and(eq(auditLog.actorLabel, 'burst@example.test'), eq(auditLog.outcome, 'failure')));
    expect(failures).toHaveLength(checked);
  });

  it('one account from 20 addresses × 15 tries: limited per account, across addresses', async () => {
    const limiter = redisLimiter();
    let checked = 0;
    for (let i = 0; i < 15; i++) {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, a) => guess(limiter, 'target@example.test', `203.0.113.${a + 1}`)));
      checked += answers.filter((s) => s === 401).length;
    }
    console.log(`sign-in, one account from 20 addresses x 15 tries: ${checked} of 300 checked`);
    expect(checked).toBeLessThanOrEqual(DEFAULT_SIGN_IN_LIMITS.accountFree + 2);
  });

  it('one password sprayed over 100 accounts from one address: limited per address', async () => {
    const limiter = redisLimiter();
    let checked = 0;
    for (let i = 0; i < 100; i++) if ((await guess(limiter, `spray-${i}@example.test`, '192.0.2.99', 'Winter2026!')) === 401) checked++;
    console.log(`sign-in spray: one password over 100 accounts from one address, ${checked} checked`);
    expect(checked).toBe(DEFAULT_SIGN_IN_LIMITS.addressFree + 1);
  });

  it('many addresses guessing many accounts: limited for the whole install', async () => {
    const limiter = redisLimiter({ globalPerMinute: 30 });
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => guess(limiter, `wide-${i}@example.test`, `10.9.${i}.1`)));
    expect(answers.filter((s) => s === 401)).toHaveLength(30);
    await expect(signIn(t.db, { email: 'wide-x@example.test', password: 'x', clientAddress: '10.9.99.1', sessionHours: 1, limiter })).rejects.toThrow(
      /^Too many failed sign-ins on this server: try again in \d+ s$/,
    );
  });

  it('without Redis, this process still limits guessing', async () => {
    const broken: SignInLimiter = {
      reserve: () => Promise.reject(new Error('redis is down')),
      succeeded: () => Promise.reject(new Error('redis is down')),
    };
    const limiter = resilientSignInLimiter(broken, memorySignInLimiter());
    const answers = await Promise.all(Array.from({ length: 50 }, () => guess(limiter, 'offline@example.test', '192.0.2.50')));
    expect(answers.filter((s) => s === 401)).toHaveLength(DEFAULT_SIGN_IN_LIMITS.accountFree + 1);
  });
});

it('over HTTP: a burst of 400 sign-ins from one address is held to the free tries, its refusals sampled in the audit log', async () => {
  const api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32), env: { REDIS_PREFIX: prefix } });
  try {
    await createUser(t.db, { email: 'http-burst@example.test', password: 'the-real-password', role: 'user' });
    const counted = () => deniedCount('RATE_LIMITED');
    const countedBefore = await counted();
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 400 }, () => api.trpc('mutation', 'auth.signIn', { email: 'http-burst@example.test', password: 'wrong-password' }).then((r) => r.status)),
    );
    const checked = answers.filter((s) => s === 401).length;
    const seconds = (Date.now() - started) / 1000;
    console.log(`sign-in over HTTP: 400 concurrent in ${seconds.toFixed(1)} s, ${checked} checked`);
    // The free tries, then one more each time the doubling wait (1 s, 2 s, 4 s...) ran out during the burst.
    expect(checked).toBeGreaterThanOrEqual(DEFAULT_SIGN_IN_LIMITS.accountFree + 1);
    expect(checked).toBeLessThanOrEqual(DEFAULT_SIGN_IN_LIMITS.accountFree + 1 + Math.ceil(Math.log2(seconds + 1)));
    expect(answers.filter((s) => s === 429)).toHaveLength(400 - checked);
    const denied = await t.db.select().from(auditLog).where(and(eq(auditLog.actorLabel, 'http-burst@example.test'), like(auditLog.outcome, 'denied')));
    // Refusals cost the attacker nothing: every one is counted, and at most a sample becomes rows.
    expect((await counted()) - countedBefore).toBe(400 - checked);
    expect(denied.length).toBeLessThanOrEqual(20);
  } finally {
    await api.close();
  }
});
