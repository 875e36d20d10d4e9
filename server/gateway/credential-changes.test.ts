import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { parseEnv } from '../core/env';
import { closeRedis } from '../core/redis';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { startGatewayServer, type GatewayServer } from './server';

// A revoked key, a disabled user and a changed role reach every gateway process within a second, although
// each caches what it knows for a minute here: the change is announced over Redis after its commit.
const prefix = testRedisPrefix('gwcreds');
process.env.REDIS_PREFIX = prefix;
let t: TestDatabase;
let redis: Redis;
let engine: OpenAIDouble;
let gateways: GatewayServer[];
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let model: string;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('gwcreds');
  redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  engine = await startOpenAIDouble({ tokens: 2 });
  const env = parseEnv({ REDIS_PREFIX: prefix });
  gateways = await Promise.all(
    [0, 1].map(() => startGatewayServer({ port: 0, host: '127.0.0.1', db: t.db, env, masterKey, redis, authCacheMs: 60_000, routingRefreshMs: 200, logFlushMs: 50 })),
  );
  api = await startApiTestServer({ db: t.db, masterKey, env: { REDIS_PREFIX: prefix } });
  model = (await makeDeployment(t.db, {}, [engine.url])).deployment.name;
  await Promise.all(gateways.map((g) => g.refresh()));
});

afterAll(async () => {
  await Promise.all(gateways?.map((g) => g.close()) ?? []);
  await api?.close();
  await engine?.close();
  await closeRedis();
  redis?.disconnect();
  await t?.drop();
});

const ask = (g: GatewayServer, key: string) =>
  fetch(`${g.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (r) => ({ status: r.status, code: ((await r.json()) as { error?: { code?: string } }).error?.code }));

/** Milliseconds until every gateway refuses the key (fails the test past `limitMs`). */
async function untilRefusedEverywhere(key: string, limitMs: number): Promise<number> {
  const started = Date.now();
  const refused = async () => (await Promise.all(gateways.map((g) => ask(g, key)))).every((a) => a.status === 401);
  await until(`every gateway to refuse the key within ${limitMs} ms`, refused, limitMs);
  return Date.now() - started;
}

async function warmKey(cookie: string) {
  const created = await api.trpc('mutation', 'keys.create', { name: 'k' }, cookie);
  const key = created.data.key as string;
  // Both gateways have it cached as valid (for a minute).
  for (const g of gateways) expect((await ask(g, key)).status).toBe(200);
  return { key, id: created.data.id as string };
}

test('a revoked key stops working on every gateway within a second, by the announcement (not by the cache running out)', async () => {
  const { cookie } = await api.userSession('user');
  const other = await warmKey(cookie);
  const { key, id } = await warmKey(cookie);
  expect((await api.trpc('mutation', 'keys.revoke', { id }, cookie)).status).toBe(200);
  // Cached a moment ago, and trusted for a minute: only the announcement can make it this fast (a
  // gateway without its subscription trusts answers for a second, so it would take about that long).
  expect(await untilRefusedEverywhere(key, 1_000)).toBeLessThan(500);
  // Only that key: the owner's other key is still served (from cache, no query needed).
  for (const g of gateways) expect((await ask(g, other.key)).status).toBe(200);
});

test("a disabled user's keys, and a demoted user's model access, change on every gateway within a second", async () => {
  const admin = await api.userSession('admin');
  const victim = await api.userSession('user');
  const { key } = await warmKey(victim.cookie);
  expect((await api.trpc('mutation', 'users.setDisabled', { id: victim.user.id, disabled: true }, admin.cookie)).status).toBe(200);
  expect(await untilRefusedEverywhere(key, 1_000)).toBeLessThan(1_000);

  // A model only engineers may use: the role change must land as fast as a revocation.
  const restricted = (await makeDeployment(t.db, { allowedRoles: ['engineer'] }, [engine.url])).deployment.name;
  await Promise.all(gateways.map((g) => g.refresh()));
  const engineer = await api.userSession('engineer');
  const created = await api.trpc('mutation', 'keys.create', { name: 'e' }, engineer.cookie);
  const use = (g: GatewayServer) =>
    fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.data.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: restricted, messages: [{ role: 'user', content: 'hi' }] }),
    }).then((r) => r.status);
  for (const g of gateways) expect(await use(g)).toBe(200);
  expect((await api.trpc('mutation', 'users.setRole', { id: engineer.user.id, role: 'user' }, admin.cookie)).status).toBe(200);
  await until('every gateway to refuse the demoted user the engineers-only model', async () => (await Promise.all(gateways.map(use))).every((s) => s === 403), 1_000);
});

test('a gateway that cannot hear announcements (no Redis) still drops a revoked key within a second', async () => {
  const deaf = await startGatewayServer({ port: 0, host: '127.0.0.1', db: t.db, env: parseEnv({ REDIS_PREFIX: prefix }), masterKey, authCacheMs: 60_000, routingRefreshMs: 200 });
  try {
    await deaf.refresh();
    const { cookie } = await api.userSession('user');
    const { key, id } = await warmKey(cookie);
    expect((await ask(deaf, key)).status).toBe(200);
    expect((await api.trpc('mutation', 'keys.revoke', { id }, cookie)).status).toBe(200);
    await until('a gateway without its subscription to drop the revoked key', async () => (await ask(deaf, key)).status === 401, 1_500);
  } finally {
    await deaf.close();
  }
});

test('a change that rolls back announces nothing: the key keeps working', async () => {
  const { cookie } = await api.userSession('user');
  const { key, id } = await warmKey(cookie);
  // Another user's key id: revoke finds nothing of theirs, the mutation fails and rolls back.
  const stranger = await api.userSession('user');
  expect((await api.trpc('mutation', 'keys.revoke', { id }, stranger.cookie)).status).toBe(404);
  // Announcements reach a gateway in the order they were made: once a later one has landed everywhere,
  // one from the rolled-back change would have landed too.
  const later = await warmKey(cookie);
  expect((await api.trpc('mutation', 'keys.revoke', { id: later.id }, cookie)).status).toBe(200);
  await untilRefusedEverywhere(later.key, 1_000);
  for (const g of gateways) expect((await ask(g, key)).status).toBe(200);
});
