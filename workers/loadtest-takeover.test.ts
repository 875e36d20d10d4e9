import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, type Db } from '../server/db/client';
import { apiKeys, loadTestSamples, loadTests } from '../server/db/schema';
import { createApiKey } from '../server/security/api-keys';
import { closeQueues, queue } from '../server/core/queues';
import { closeRedis } from '../server/core/redis';
import { claimLoadTest, MAX_LOAD_TEST_ATTEMPTS, ownedBy, requeueSilentLoadTests, TAKEOVER_AFTER_MS } from '../server/evaluation/loadtest/takeover';
import { startOpenAIDouble, type OpenAIDouble } from '../server/testing/openai-double';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../server/testing/database';
import { makeLoadTest, makeUser } from '../server/testing/factories';
import { until } from '../server/testing/until';
import { startLoadTestWorker } from './loadtest';

/**
 * A load test whose worker died mid-run (kill -9: no progress written since) is taken over by another
 * worker and run again from the start, exactly once however many workers race for it; the silent
 * worker's late writes land nowhere.
 */
process.env.REDIS_PREFIX = testRedisPrefix('lttakeover');
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';
let t: TestDatabase;
let other: Db;
let engine: OpenAIDouble;
const workers: { close(): Promise<void> }[] = [];
const spec = { mode: 'concurrency', concurrency: 2, requests: 12, warmup: 0, workload: { kind: 'random', inputTokens: 8, outputTokens: 3 } };

beforeAll(async () => {
  t = await createTestDatabase('lttakeover');
  other = createDb(t.url, 3);
  engine = await startOpenAIDouble({ firstTokenMs: 5, interTokenMs: 2, tokens: 3 });
}, 60_000);
afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await queue('loadtest').obliterate({ force: true });
  await closeQueues();
  await closeRedis();
  await engine?.close();
  await other?.$client.end();
  await t?.drop();
});

/** A run a dead worker left behind: running, its last heartbeat `silentMs` ago, a few samples written. */
async function orphan(silentMs: number, attempt = 1) {
  const owner = await makeUser(t.db, { role: 'engineer' });
  // The internal key its worker minted for the gateway and never got to revoke.
  const key = await createApiKey(t.db, { userId: owner.id, name: 'load test key', models: ['double'], maxConcurrent: 0 });
  const row = await makeLoadTest(t.db, {
    ownerId: owner.id,
    status: 'running',
    targetUrl: `${engine.url}/v1`,
    model: 'double',
    spec: { ...spec, target: { kind: 'url' } },
    startedAt: new Date(Date.now() - 60_000),
    progress: { attempt, done: 3, total: 12, heartbeatAt: Date.now() - silentMs, keyId: key.id },
  });
  await t.db.insert(loadTestSamples).values([0, 1, 2].map((seq) => ({ loadTestId: row.id, seq, startMs: seq, ttftMs: 999, e2eMs: 999, outputTokens: 1, inputTokens: 1 })));
  return { ...row, keyId: key.id };
}

const revoked = async (keyId: string) => (await t.db.select().from(apiKeys).where(eq(apiKeys.id, keyId)))[0]!.revokedAt !== null;

const rowOf = async (id: string) => (await t.db.select().from(loadTests).where(eq(loadTests.id, id)))[0]!;

it('two workers racing for a silent run: exactly one takes it over, and a live or worn-out run is left alone', async () => {
  const silent = await orphan(TAKEOVER_AFTER_MS + 5_000);
  const claims = await Promise.all([claimLoadTest(t.db, silent.id), claimLoadTest(other, silent.id)]);
  expect(claims.filter(Boolean)).toHaveLength(1);
  expect(claims.find(Boolean)!.attempt).toBe(2);
  // The first attempt's samples are gone with the takeover; its writer is fenced off.
  expect(await t.db.select().from(loadTestSamples).where(eq(loadTestSamples.loadTestId, silent.id))).toEqual([]);
  expect(await t.db.update(loadTests).set({ status: 'succeeded' }).where(ownedBy(silent.id, 1)).returning()).toEqual([]);
  expect(await revoked(silent.keyId)).toBe(true);

  const live = await orphan(1_000);
  expect(await claimLoadTest(other, live.id)).toBeUndefined();
  const worn = await orphan(TAKEOVER_AFTER_MS + 5_000, MAX_LOAD_TEST_ATTEMPTS);
  expect(await claimLoadTest(other, worn.id)).toBeUndefined();
  // Left alone, their keys too.
  expect([await revoked(live.keyId), await revoked(worn.keyId)]).toEqual([false, false]);
  expect(await requeueSilentLoadTests(t.db)).toEqual([]);
  await t.db.delete(loadTests);
});

it('a run whose worker died is queued again by the sweep and finished once by one of two workers, from the start', async () => {
  const dead = await orphan(TAKEOVER_AFTER_MS + 5_000);
  expect(await requeueSilentLoadTests(t.db)).toEqual([dead.id]);
  engine.clear();
  workers.push(await startLoadTestWorker(t.db), await startLoadTestWorker(other));
  const done = await until('the run taken over and finished', async () => {
    const r = await rowOf(dead.id);
    return r.status !== 'running' ? r : undefined;
  }, 60_000, 200);
  expect([done.status, done.error]).toEqual(['succeeded', null]);
  expect(done.progress).toMatchObject({ attempt: 2, done: 12, total: 12 });
  expect(done.summary).toMatchObject({ completed: 12, failed: 0 });
  // Every request once: twelve samples of this run (none of the dead worker's), twelve requests sent.
  const samples = await t.db.select().from(loadTestSamples).where(eq(loadTestSamples.loadTestId, dead.id));
  expect(samples.map((s) => s.seq).sort((a, b) => a - b)).toEqual([...Array(12).keys()]);
  expect(samples.every((s) => s.ttftMs !== 999)).toBe(true);
  expect(engine.received).toBe(12);
  // Queued again later (a second sweep, the stalled job delivered again): nothing runs twice.
  expect(await requeueSilentLoadTests(t.db)).toEqual([]);
  expect(await claimLoadTest(t.db, dead.id)).toBeUndefined();
}, 90_000);
