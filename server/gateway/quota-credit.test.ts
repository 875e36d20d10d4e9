import { eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { quotas } from '../db/schema';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeUser } from '../testing/factories';
import { until } from '../testing/until';
import type { Caller } from './auth';
import { SLOT_LEASE_MS } from './quota-credit';
import { createQuotaEnforcer, readUsage, subjectKeys, type QuotaEnforcer } from './quotas';

/**
 * Local credit (quota-credit.ts), with real Redis and two enforcers standing for two gateway processes:
 * far from a limit, requests are admitted without a round trip; the credit is counted in Redis when it
 * is taken, so the limit is never passed across processes; near a limit every request asks Redis again.
 */
const prefix = testRedisPrefix('quotacredit');
let t: TestDatabase;
let redis: Redis;
const enforcers: QuotaEnforcer[] = [];

beforeAll(async () => {
  t = await createTestDatabase('quotacredit');
  redis = new Redis('redis://127.0.0.1:6379');
});

afterAll(async () => {
  for (const e of enforcers) e.close();
  await new Promise((r) => setTimeout(r, 200));
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await t?.drop();
});

async function enforcer() {
  const e = createQuotaEnforcer(t.db, redis, { prefix, leaseMs: 60_000, refreshMs: 60_000 });
  enforcers.push(e);
  await e.refresh();
  return e;
}

async function userWith(limits: Partial<typeof quotas.$inferInsert>) {
  const user = await makeUser(t.db);
  await t.db.insert(quotas).values({ subjectKind: 'user', subjectId: user.id, ...limits });
  await Promise.all(enforcers.map((e) => e.refresh()));
  const caller: Caller = { keyId: null, userId: user.id, role: 'user', models: null, expiresAt: null, maxConcurrent: null, groups: [] };
  return { caller, subject: { kind: 'user', id: user.id } };
}

/** Settled within microtasks: no Redis round trip can answer that fast. */
async function settledAtOnce(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return done;
}

/** Waits out the end of a minute, so a requests-per-minute window does not start over mid-test. */
async function notNearMinuteEnd() {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 10_000) await new Promise((r) => setTimeout(r, left + 50));
}

test('far from every limit, requests are admitted on local credit, taken from Redis and counted there', async () => {
  await notNearMinuteEnd();
  const e = await enforcer();
  const { caller, subject } = await userWith({ requestsPerMinute: 100_000, maxConcurrent: 10_000, tokensPerDay: 1_000_000_000 });
  // The first request asks Redis, and the process takes credit behind it.
  const first = await e.admit(caller)!;
  expect(first.grant).toBeUndefined();
  await until('credit taken', async () => (await readUsage(redis, prefix, subject)).concurrent > 1, 5_000, 20);
  await new Promise((r) => setTimeout(r, 50));
  const held = await readUsage(redis, prefix, subject);
  // The spare (16 slots) and the minute's block (1/16 of what was left) are in Redis before any is used.
  expect(held.concurrent).toBe(1 + 16);
  expect(held.requestsThisMinute).toBe(1 + Math.min(1024, Math.floor((100_000 - 1) / 16)));

  const admitted = e.admit(caller)!;
  expect(await settledAtOnce(admitted)).toBe(true);
  const r = await admitted;
  expect(r.grant?.slots).toHaveLength(1);
  // Still the same count in Redis: the slot was one of the spare.
  expect((await readUsage(redis, prefix, subject)).concurrent).toBe(17);
  e.release(r, null, 3, 4);
  e.release(first, null, 3, 4);
  await until('the tokens counted', async () => (await readUsage(redis, prefix, subject)).tokensToday === 14, 5_000, 20);
});

test('across two processes a large concurrency limit is never passed, and the spare goes back when the load ends', async () => {
  const limit = 200;
  const [a, b] = [await enforcer(), await enforcer()];
  const { caller, subject } = await userWith({ maxConcurrent: limit });
  // Both take credit first.
  for (const e of [a, b]) e.release(await e.admit(caller)!, null, 0, 0);
  await until('both holding a spare', async () => (await readUsage(redis, prefix, subject)).concurrent >= 2 * 11, 5_000, 20);
  const outcomes = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).admit(caller)!));
  const admitted = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const refused = outcomes.filter((o) => o.status === 'rejected');
  expect(admitted.length).toBeLessThanOrEqual(limit);
  // Refusals start early by at most the spare others still held (a sixteenth of what was left).
  expect(admitted.length).toBeGreaterThan(limit - 2 * Math.ceil(limit / 16));
  expect(admitted.some((r) => r.grant)).toBe(true);
  for (const o of refused) expect((o as PromiseRejectedResult).reason).toMatchObject({ status: 429, code: 'quota_concurrent_requests' });
  expect((await readUsage(redis, prefix, subject)).concurrent).toBeLessThanOrEqual(limit);
  for (const r of admitted) (admitted.indexOf(r) % 2 ? a : b).release(r, null, 0, 0);
  // Idle, each process keeps no more spare than a sixteenth of what is left (surplus goes back at its next renewal, every 5 s).
  await until('the surplus given back', async () => (await readUsage(redis, prefix, subject)).concurrent <= 2 * Math.floor(limit / 16), 8_000, 50);
});

test('a requests-per-minute limit is never passed across two processes, each taking blocks of it', async () => {
  await notNearMinuteEnd();
  const limit = 1_000;
  const [a, b] = [await enforcer(), await enforcer()];
  const { caller, subject } = await userWith({ requestsPerMinute: limit });
  let admitted = 0;
  for (let wave = 0; wave < 12; wave++) {
    const outcomes = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).admit(caller)!));
    for (const o of outcomes) if (o.status === 'fulfilled') admitted++;
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(admitted).toBeLessThanOrEqual(limit);
  expect(admitted).toBeGreaterThan(limit - 2 * Math.ceil(limit / 16));
  expect((await readUsage(redis, prefix, subject)).requestsThisMinute).toBeLessThanOrEqual(limit);
});

test('a small limit, or what is left near a large one, is checked in Redis on every request', async () => {
  const e = await enforcer();
  const { caller, subject } = await userWith({ maxConcurrent: 40 });
  const first = await e.admit(caller)!;
  await new Promise((r) => setTimeout(r, 1_200)); // two ticks
  expect((await readUsage(redis, prefix, subject)).concurrent).toBe(1);
  const next = e.admit(caller)!;
  expect(await settledAtOnce(next)).toBe(false);
  expect((await next).grant).toBeUndefined();
  e.release(first, null, 0, 0);
  e.release(await next, null, 0, 0);
});

test('held slots carry a short lease, so a process that dies frees them within seconds', async () => {
  const e = await enforcer();
  const { caller, subject } = await userWith({ maxConcurrent: 5_000 });
  e.release(await e.admit(caller)!, null, 0, 0);
  await until('credit taken', async () => (await readUsage(redis, prefix, subject)).concurrent >= 16, 5_000, 20);
  const members = await redis.zrange(subjectKeys(prefix, subject, Date.now()).concurrent, '0', '-1', 'WITHSCORES');
  // The held slots (the first request's own slot has the request's lease, and is gone once released).
  const scores = members.flatMap((m, i) => (i % 2 === 0 && m.includes(':slot:') ? [Number(members[i + 1])] : []));
  expect(scores.length).toBeGreaterThanOrEqual(16);
  for (const s of scores) expect(s).toBeLessThanOrEqual(Date.now() + SLOT_LEASE_MS);
});

test('lowered limits void the credit at once: the spare goes back and the new limit is exact', async () => {
  const e = await enforcer();
  const { caller, subject } = await userWith({ maxConcurrent: 5_000 });
  e.release(await e.admit(caller)!, null, 0, 0);
  // The spare held, and the first request's own slot given back (releases go out every few ms).
  await until('credit taken', async () => (await readUsage(redis, prefix, subject)).concurrent === 16, 5_000, 20);
  await t.db.update(quotas).set({ maxConcurrent: 2 }).where(eq(quotas.subjectId, subject.id));
  await e.refresh();
  const outcomes = await Promise.allSettled([e.admit(caller)!, e.admit(caller)!, e.admit(caller)!]);
  expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
  expect((await readUsage(redis, prefix, subject)).concurrent).toBe(2);
});
