import { eq, sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { deployments } from '../db/schema';
import { internalToken } from '../security/master-key';
import { testRedisPrefix } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { answer, startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { readEvents, startGatewayHarness, type GatewayHarness } from './testing/harness';

/**
 * The response cache (response-cache.ts) through the real gateway, real Redis and PostgreSQL, with the
 * engine double: what is a hit, for whom, for how long, and what Redis holds.
 */
const prefix = testRedisPrefix('respcache');
let redis: Redis;
let h: GatewayHarness;
let engine: OpenAIDouble;
let owner: { userId: string; key: string; keyId: string };

beforeAll(async () => {
  redis = new Redis('redis://127.0.0.1:6379');
  h = await startGatewayHarness('respcache', { REDIS_PREFIX: prefix }, { redis });
  engine = await startOpenAIDouble(answer('The quick brown fox jumps over the lazy dog '));
  owner = await h.keyFor();
});

afterAll(async () => {
  await h?.close();
  await engine?.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

async function deploy(over: Partial<typeof deployments.$inferInsert> = {}) {
  const { deployment } = await makeDeployment(h.t.db, over, [engine.url]);
  await h.gateway.refresh();
  return deployment;
}

const entries = () => redis.keys(`${prefix}:gateway:cache:*`);
const snapshot = async () => new Set(await entries());
/**
 * Stores are written after the answer went out: wait for `count` entries not in `before` (a count of all
 * entries would not do: an earlier test's short-lived entry may expire meanwhile).
 */
const stored = (before: Set<string>, count = 1) =>
  until(`${count} new cached answer(s)`, async () => (await entries()).filter((k) => !before.has(k)).length >= count);

let prompts = 0;
const ask = (model: string, extra: Record<string, unknown> = {}, content = `question ${++prompts}`) => ({
  model,
  messages: [{ role: 'user', content }],
  temperature: 0,
  ...extra,
});

async function call(body: unknown, key = owner.key, headers: Record<string, string> = {}) {
  const res = await h.post('/v1/chat/completions', body, key, headers);
  return { status: res.status, cache: res.headers.get('x-enclave-cache'), text: await res.text(), type: res.headers.get('content-type') };
}

async function logs(deploymentId: string) {
  await h.gateway.flushLogs();
  const res = await h.t.db.execute(
    sql`SELECT cache, replica_id, prompt_tokens, completion_tokens, status FROM request_logs WHERE deployment_id = ${deploymentId} ORDER BY id`,
  );
  return res.rows as { cache: string | null; replica_id: string | null; prompt_tokens: number | null; completion_tokens: number | null; status: number }[];
}

test('a repeated deterministic request is a hit: same answer, no engine call, logged with its usage, counted on /metrics', async () => {
  const d = await deploy();
  const before = engine.received;
  const body = ask(d.name);
  const n = await snapshot();
  const first = await call(body);
  expect(first).toMatchObject({ status: 200, cache: 'miss' });
  await stored(n);
  const second = await call(body);
  expect(second).toMatchObject({ status: 200, cache: 'hit' });
  expect(second.text).toBe(first.text);
  expect(engine.received).toBe(before + 1);
  // A different parameter is a different answer.
  expect((await call({ ...body, max_tokens: 3 })).cache).toBe('miss');
  // `user` and `stream_options` only shape the delivery: still a hit.
  expect((await call({ ...body, user: 'someone' })).cache).toBe('hit');

  const rows = await logs(d.id);
  expect(rows.map((r) => r.cache)).toEqual(['miss', 'hit', 'miss', 'hit']);
  expect(rows[1]).toMatchObject({ status: 200, replica_id: null, prompt_tokens: rows[0]!.prompt_tokens, completion_tokens: rows[0]!.completion_tokens });
  expect(rows[1]!.completion_tokens).toBeGreaterThan(0);
  const metrics = await (await fetch(`${h.gateway.url}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`enclave_gateway_cache_requests_total\\{deployment="${d.id}",result="hit"\\} 2`));
  expect(metrics).toMatch(new RegExp(`enclave_gateway_cache_requests_total\\{deployment="${d.id}",result="miss"\\} 2`));
});

test('a streamed answer is replayed byte for byte as SSE ending with [DONE], and also serves a non-streaming call', async () => {
  const d = await deploy();
  const body = ask(d.name, { stream: true });
  const n = await snapshot();
  const live = await call(body);
  expect(live.cache).toBe('miss');
  await stored(n);
  const replay = await call(body);
  expect(replay).toMatchObject({ status: 200, cache: 'hit' });
  expect(replay.type).toMatch(/^text\/event-stream/);
  expect(replay.text).toBe(live.text);
  expect(replay.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  expect(replay.text).not.toContain('"usage"');
  // Usage asked for this time: the stored usage event comes along.
  const withUsage = await call({ ...body, stream_options: { include_usage: true } });
  expect(withUsage.cache).toBe('hit');
  expect(withUsage.text).toMatch(/"usage":\{"prompt_tokens":2,"completion_tokens":9/);
  // The same question without streaming: the stream assembled into a completion.
  const whole = await call({ ...body, stream: false });
  expect(whole.cache).toBe('hit');
  const parsed = JSON.parse(whole.text);
  expect(parsed.choices[0]).toMatchObject({ message: { role: 'assistant', content: 'The quick brown fox jumps over the lazy dog ' }, finish_reason: 'stop' });
  expect(parsed.usage).toMatchObject({ prompt_tokens: 2, completion_tokens: 9 });
});

test('an answer stored from a non-streaming call is streamed back as chunks a client can read', async () => {
  const d = await deploy();
  const body = ask(d.name);
  const n = await snapshot();
  await call(body);
  await stored(n);
  const res = await h.post('/v1/chat/completions', { ...body, stream: true }, owner.key);
  expect(res.headers.get('x-enclave-cache')).toBe('hit');
  const events = await readEvents(res);
  expect(events.at(-1)!.data).toBe('[DONE]');
  const text = events
    .slice(0, -1)
    .map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? '')
    .join('');
  expect(text).toBe('The quick brown fox jumps over the lazy dog ');
  expect(JSON.parse(events.at(-2)!.data).choices[0].finish_reason).toBe('stop');
});

test('non-deterministic requests bypass the cache unless the deployment opts in; a deployment may turn it off', async () => {
  const d = await deploy();
  const before = engine.received;
  const body = ask(d.name, { temperature: 0.7 });
  expect((await call(body)).cache).toBe('bypass');
  expect((await call(body)).cache).toBe('bypass');
  const { temperature: _t, ...noTemperature } = body;
  expect((await call(noTemperature)).cache).toBe('bypass');
  expect(engine.received).toBe(before + 3);
  // A seed makes it deterministic.
  expect((await call({ ...body, seed: 7 })).cache).toBe('miss');
  expect((await logs(d.id)).map((r) => r.cache)).toEqual([null, null, null, 'miss']);

  const optedIn = await deploy({ cacheMode: 'all' });
  const sampled = ask(optedIn.name, { temperature: 0.9 });
  const n = await snapshot();
  expect((await call(sampled)).cache).toBe('miss');
  await stored(n);
  expect((await call(sampled)).cache).toBe('hit');

  const off = await deploy({ cacheMode: 'off' });
  expect((await call(ask(off.name))).cache).toBeNull();
});

test("another account never gets someone's answer; the owner's other keys do; another classification level does not", async () => {
  const d = await deploy();
  const body = ask(d.name);
  const n = await snapshot();
  expect((await call(body)).cache).toBe('miss');
  await stored(n);
  const stranger = await h.keyFor();
  expect((await call(body, stranger.key)).cache).toBe('miss');
  const { createApiKey } = await import('../security/api-keys');
  const second = await createApiKey(h.t.db, { userId: owner.userId, name: 'second', models: null });
  expect((await call(body, second.key)).cache).toBe('hit');

  // The web role's chat declares each conversation's level: an answer is kept per level.
  const internal = internalToken(h.masterKey);
  const as = (level: string) => ({ 'x-enclave-user-id': owner.userId, 'x-enclave-classification': level });
  const chatBody = ask(d.name);
  const m = await snapshot();
  expect((await call(chatBody, internal, as('1'))).cache).toBe('miss');
  await stored(m);
  expect((await call(chatBody, internal, as('1'))).cache).toBe('hit');
  expect((await call(chatBody, internal, as('2'))).cache).toBe('miss');
  expect((await call(chatBody, internal, as('0'))).cache).toBe('miss');
});

test('an answer expires after the deployment TTL', async () => {
  const d = await deploy({ cacheTtlSeconds: 1 });
  const body = ask(d.name);
  const n = await snapshot();
  await call(body);
  await stored(n);
  expect((await call(body)).cache).toBe('hit');
  await until('the entry to expire', async () => (await entries()).every((k) => n.has(k)), 5_000, 100);
  const again = await snapshot();
  expect((await call(body)).cache).toBe('miss');
  await stored(again); // kept again (for a second): not left to land in the next test
});

test('Redis holds no plaintext: neither the prompt nor the answer', async () => {
  const d = await deploy();
  const before = await snapshot();
  const secret = 'zebra-violet-4417 is the vault code';
  await call(ask(d.name, {}, secret));
  await stored(before);
  const [key] = (await entries()).filter((k) => !before.has(k));
  const value = (await redis.getBuffer(key!))!;
  expect(value.length).toBeGreaterThan(40);
  const latin = value.toString('latin1');
  for (const word of ['zebra-violet', 'quick brown', 'assistant', 'choices']) expect(latin).not.toContain(word);
  expect(key).toMatch(/:gateway:cache:[0-9a-f]{64}$/);
});

test('errors and cut streams are never kept', async () => {
  const broken = await startOpenAIDouble({ tokens: 4, failure: { errorAfterTokens: 2, message: 'engine lost' } });
  const failing = await startOpenAIDouble({ failure: { status: 400, message: 'bad request' } });
  try {
    const { deployment: d } = await makeDeployment(h.t.db, {}, [broken.url]);
    const { deployment: e } = await makeDeployment(h.t.db, {}, [failing.url]);
    await h.gateway.refresh();
    const before = new Set(await entries());
    await call(ask(d.name, { stream: true }));
    await call(ask(e.name));
    const body = ask(d.name, { stream: true });
    await call(body);
    await new Promise((r) => setTimeout(r, 300));
    expect((await entries()).filter((k) => !before.has(k))).toEqual([]);
    expect((await call(body)).cache).toBe('miss');
  } finally {
    await broken.close();
    await failing.close();
  }
});

test('the deployment row keeps its cache settings (check constraints refuse nonsense)', async () => {
  const d = await deploy();
  await expect(h.t.db.update(deployments).set({ cacheTtlSeconds: 0 }).where(eq(deployments.id, d.id))).rejects.toThrow();
});
