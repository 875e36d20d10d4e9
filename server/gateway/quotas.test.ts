import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { quotas, type QuotaSubjectKind } from '../db/schema';
import { createApiKey } from '../security/api-keys';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeDeployment, makeUser } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { createQuotaEnforcer, readUsage } from './quotas';
import { readEvents, startGatewayHarness } from './testing/harness';
import { credentialChannel } from '../security/credential-events';

/**
 * Quotas across two real gateway processes sharing one database and one Redis: what one admits the
 * other counts, so a limit holds for the whole cluster, exactly, under concurrent load.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const prefix = testRedisPrefix('quotas');
let t: TestDatabase;
let engine: OpenAIDouble;
let model: string;
let deploymentId: string;
let redis: Redis;
const children: ChildProcess[] = [];
let gateways: string[] = [];

function startGateway(env: Record<string, string>): Promise<string> {
  const proc = fork(path.join(here, 'testing/quota-gateway-process.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(proc);
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
    proc.on('message', (m: { event?: string; port?: number }) => {
      if (m.event === 'listening') resolve(`http://127.0.0.1:${m.port}`);
    });
  });
}

beforeAll(async () => {
  t = await createTestDatabase('quotas');
  redis = new Redis('redis://127.0.0.1:6379');
  // A slow first token keeps every admitted request in flight while the others arrive.
  engine = await startOpenAIDouble({ firstTokenMs: 400, interTokenMs: 5, tokens: 4 });
  const made = await makeDeployment(t.db, {}, [engine.url]);
  model = made.deployment.name;
  deploymentId = made.deployment.id;
  const env = {
    DATABASE_URL: t.url,
    ENCLAVE_MASTER_KEY: randomBytes(32).toString('hex'),
    ENCLAVE_DATA_DIR: '/tmp/enclave-gateway-test',
    REDIS_PREFIX: prefix,
    QUOTA_REFRESH_MS: '100',
    GATEWAY_RATE_LIMIT_PER_MINUTE: '0',
  };
  gateways = await Promise.all([startGateway(env), startGateway(env)]);
}, 60_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await engine?.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await t?.drop();
});

async function keyWithQuota(kind: QuotaSubjectKind | null, limits: Partial<typeof quotas.$inferInsert>) {
  const user = await makeUser(t.db);
  const { id, key } = await createApiKey(t.db, { userId: user.id, name: 'quota-test', models: null });
  if (kind) await t.db.insert(quotas).values({ subjectKind: kind, subjectId: kind === 'user' ? user.id : id, ...limits });
  // Both gateways reload quota rows every 100 ms.
  await new Promise((r) => setTimeout(r, 400));
  return { key, keyId: id, userId: user.id, email: user.email };
}

function post(i: number, key: string, body: Record<string, unknown> = {}) {
  return fetch(gateways[i % 2]! + '/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'one two three' }], ...body }),
  });
}

async function outcome(res: Response) {
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: text };
}

test('a concurrency limit of N admits exactly N of N+k concurrent requests across two gateways', async () => {
  const N = 3;
  const k = 7;
  const { key, keyId } = await keyWithQuota('key', { maxConcurrent: N });
  const results = await Promise.all(Array.from({ length: N + k }, (_, i) => post(i, key).then(outcome)));
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 429);
  expect(ok).toHaveLength(N);
  expect(refused).toHaveLength(k);
  for (const r of refused) {
    expect(r.retryAfter).toBe('1');
    const error = JSON.parse(r.body).error;
    expect(error).toMatchObject({ type: 'rate_limit_error', code: 'quota_concurrent_requests' });
    expect(error.message).toMatch(/^Quota reached: concurrent requests for API key 'quota-test' \(.+…\): 3 used of 3; retry when one finishes$/);
  }
  // Slots come back when the requests end (releases are sent every few ms): the next wave is admitted again.
  await until('the slots given back', async () => (await readUsage(redis, prefix, { kind: 'key', id: keyId })).concurrent === 0);
  const again = await Promise.all(Array.from({ length: N }, (_, i) => post(i, key).then(outcome)));
  expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
});

test('requests per minute are exact under concurrency, named with the user and the reset time', async () => {
  // Not across a minute boundary: the window would start over mid-test.
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 8_000) await new Promise((r) => setTimeout(r, left + 50));
  const { key, email } = await keyWithQuota('user', { requestsPerMinute: 5 });
  const results = await Promise.all(Array.from({ length: 16 }, (_, i) => post(i, key).then(outcome)));
  expect(results.filter((r) => r.status === 200)).toHaveLength(5);
  const refused = results.filter((r) => r.status === 429);
  expect(refused).toHaveLength(11);
  const error = JSON.parse(refused[0]!.body).error;
  expect(error.code).toBe('quota_requests_per_minute');
  const resets = new Date((Math.floor(Date.now() / 60_000) + 1) * 60_000).toISOString().replace('.000Z', 'Z');
  expect(error.message).toBe(`Quota reached: requests per minute for user ${email}: 5 used of 5; resets at ${resets}`);
  expect(Number(refused[0]!.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(refused[0]!.retryAfter)).toBeLessThanOrEqual(60);
});

test("token budgets count the engine's usage (streamed or not) and refuse once spent", async () => {
  const { key, keyId } = await keyWithQuota('key', { tokensPerDay: 10 });
  // The double counts the prompt's words (3) and answers 4 tokens: 7 per request.
  const first = await post(0, key, { stream: true });
  expect(first.status).toBe(200);
  await readEvents(first);
  await until('the streamed usage counted', async () => (await readUsage(redis, prefix, { kind: 'key', id: keyId })).tokensToday === 7);
  const second = await post(1, key);
  expect(second.status).toBe(200);
  await second.text();
  await until('the second usage counted', async () => (await readUsage(redis, prefix, { kind: 'key', id: keyId })).tokensToday === 14);
  const third = await outcome(await post(0, key));
  expect(third.status).toBe(429);
  const tomorrow = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1));
  expect(JSON.parse(third.body).error.message).toMatch(
    new RegExp(`^Quota reached: tokens per day for API key 'quota-test' \\(.+…\\): 14 used of 10; resets at ${tomorrow.toISOString().replace('.000Z', 'Z')}$`),
  );
  expect(Number(third.retryAfter)).toBeGreaterThan(0);
  expect(Number(third.retryAfter)).toBeLessThanOrEqual(86_400);
  // The other gateway refuses it too, and a key without quota is untouched.
  expect((await post(1, key)).status).toBe(429);
  const free = await keyWithQuota(null, {});
  expect((await post(1, free.key)).status).toBe(200);
});

test('the cost of usage is counted when the deployment has a price', async () => {
  await t.db.execute(
    sql`INSERT INTO deployment_prices (deployment_id, prompt_per_million, completion_per_million) VALUES (${deploymentId}, 2, 10)`,
  );
  const { key, keyId } = await keyWithQuota('key', { tokensPerMonth: 1_000_000 });
  const res = await post(0, key);
  expect(res.status).toBe(200);
  await res.text();
  // 3 prompt tokens × 2 + 4 completion tokens × 10, per million.
  const usage = await until('the cost counted', async () => {
    const u = await readUsage(redis, prefix, { kind: 'key', id: keyId });
    return u.tokensThisMonth === 7 && u;
  });
  expect(usage.costThisMonth).toBeCloseTo(46 / 1e6, 12);
});

test('with Redis unreachable, callers under a quota are refused (503) and the others still served', async () => {
  const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => 1_000 });
  down.on('error', () => {});
  const h = await startGatewayHarness('quotadown', { REDIS_PREFIX: testRedisPrefix('quotadown') }, { redis: down, quotaRefreshMs: 100 });
  try {
    const made = await makeDeployment(h.t.db, {}, [engine.url]);
    const limited = await h.keyFor();
    const free = await h.keyFor();
    await h.t.db.insert(quotas).values({ subjectKind: 'user', subjectId: limited.userId, requestsPerMinute: 1000 });
    await h.gateway.refresh();
    const body = { model: made.deployment.name, messages: [{ role: 'user', content: 'hi' }] };
    const refused = await h.post('/v1/chat/completions', body, limited.key);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect((await refused.json()).error.code).toBe('quota_unavailable');
    expect((await h.post('/v1/chat/completions', body, free.key)).status).toBe(200);
  } finally {
    await h.close();
    down.disconnect();
  }
});

test("a slot whose process died without giving it back frees itself at its lease's end", async () => {
  const { userId, keyId } = await keyWithQuota('key', { maxConcurrent: 1 });
  const enforcer = createQuotaEnforcer(t.db, redis, { prefix, leaseMs: 300, refreshMs: 60_000 });
  try {
    await enforcer.refresh();
    const caller = { keyId, userId, role: 'user' as const, models: null, expiresAt: null, maxConcurrent: null, groups: [] };
    await enforcer.admit(caller); // never released, as by a process that crashed
    await expect(enforcer.admit(caller)).rejects.toMatchObject({ status: 429, code: 'quota_concurrent_requests' });
    await new Promise((r) => setTimeout(r, 350));
    const r = await enforcer.admit(caller);
    enforcer.release(r!, null, 1, 1);
  } finally {
    enforcer.close();
  }
});

test('a quota change announced over Redis reaches a gateway at once, without waiting for its poll', async () => {
  const announcePrefix = testRedisPrefix('quotannounce');
  // The poll is ten minutes: only the announcement can bring the new row in time.
  const h = await startGatewayHarness('quotannounce', { REDIS_PREFIX: announcePrefix }, { redis, quotaRefreshMs: 600_000 });
  try {
    const made = await makeDeployment(h.t.db, {}, [engine.url]);
    const caller = await h.keyFor();
    const body = { model: made.deployment.name, messages: [{ role: 'user', content: 'hi' }] };
    // Subscribed (the gateway reloads everything once its subscription is up): no quota yet, so no limit.
    await until('the gateway to listen for changes', async () => (await redis.pubsub('NUMSUB', credentialChannel(announcePrefix)))[1] === 1);
    for (let i = 0; i < 3; i++) expect((await h.post('/v1/chat/completions', body, caller.key)).status).toBe(200);
    await h.t.db.insert(quotas).values({ subjectKind: 'user', subjectId: caller.userId, requestsPerMinute: 1 });
    await redis.publish(credentialChannel(announcePrefix), JSON.stringify({ quotas: true }));
    // Within a moment one request a minute holds: one more is admitted at most, then 429s.
    const refused = await until('the new quota to be enforced', async () => {
      const r = await h.post('/v1/chat/completions', body, caller.key);
      return r.status === 429 && r;
    }, 3_000);
    expect((await refused.json()).error.message).toMatch(/requests per minute/);
  } finally {
    await h.close();
  }
});
