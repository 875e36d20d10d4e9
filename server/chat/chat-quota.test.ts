import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { parseEnv } from '../core/env';
import { closeRedis } from '../core/redis';
import { quotas } from '../db/schema';
import { startGatewayServer, type GatewayServer } from '../gateway/server';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';

/**
 * The browser's chat goes through the real gateway as the signed-in user: that user's quota applies to
 * it as to their keys, the refusal reaches the chat as a 429 naming the limit, and quotas.mine feeds the
 * chat's meter.
 */
process.env.REDIS_PREFIX = testRedisPrefix('chatquota');

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let engine: OpenAIDouble;
let gateway: GatewayServer;
let client: Redis;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('chatquota');
  engine = await startOpenAIDouble({ tokens: 5, firstTokenMs: 2, interTokenMs: 2 });
  await makeDeployment(t.db, { name: 'tiny' }, [engine.url]);
  client = new Redis('redis://127.0.0.1:6379');
  const env = parseEnv({ ENCLAVE_DATA_DIR: '/tmp/enclave-gateway-test', REDIS_PREFIX: process.env.REDIS_PREFIX });
  gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', db: t.db, env, redis: client, masterKey, routingRefreshMs: 200, authCacheMs: 200, quotaRefreshMs: 100 });
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url, env: { REDIS_PREFIX: process.env.REDIS_PREFIX } });
});
afterAll(async () => {
  await api?.close();
  await gateway?.close();
  await engine?.close();
  const keys = await client.keys(`${process.env.REDIS_PREFIX}:*`);
  if (keys.length) await client.del(...keys);
  client.disconnect();
  await closeRedis();
  await t?.drop();
});

it("refuses a chat turn past the user's token budget with a message naming it, and the meter shows what is left", async () => {
  const alice = await api.userSession('user');
  expect((await api.trpc('query', 'quotas.mine', undefined, alice.cookie)).data).toEqual({ subjects: [] });
  await t.db.insert(quotas).values({ subjectKind: 'user', subjectId: alice.user.id, tokensPerDay: 10 });
  await gateway.refresh();
  const conversationId = (await api.trpc('mutation', 'conversations.create', {}, alice.cookie)).data.id as string;
  const first = await api.stream('chat.send', { conversationId, model: 'tiny', parentId: null, content: 'one two three', maxTokens: 5 }, { cookie: alice.cookie });
  expect(first.status).toBe(200);
  // 3 prompt words + 5 tokens, added once the answer is done.
  const mine = await until('the chat turn counted', async () => {
    const [m] = (await api.trpc('query', 'quotas.mine', undefined, alice.cookie)).data.subjects;
    return m?.usage?.tokensToday === 8 && m;
  });
  expect(mine.limits).toEqual({ requestsPerMinute: null, tokensPerDay: 10, tokensPerMonth: null, maxConcurrent: null });
  const second = await api.stream('chat.send', { conversationId, model: 'tiny', parentId: null, content: 'four five', maxTokens: 5 }, { cookie: alice.cookie });
  expect(second.status).toBe(200);
  await until('the second turn counted', async () => (await api.trpc('query', 'quotas.mine', undefined, alice.cookie)).data.subjects[0]?.usage?.tokensToday === 15);
  const refused = await api.stream('chat.send', { conversationId, model: 'tiny', parentId: null, content: 'six', maxTokens: 5 }, { cookie: alice.cookie });
  expect(refused.status).toBe(429);
  expect(refused.error?.message).toMatch(new RegExp(`^Quota reached: tokens per day for user ${alice.email.replace('.', '\\.')}: 15 used of 10; resets at \\d{4}-\\d\\d-\\d\\dT00:00:00Z$`));
  expect(refused.error?.code).toBe('TOO_MANY_REQUESTS');
});
