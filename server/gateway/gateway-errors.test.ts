import { eq, sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import net from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { apiKeys, deploymentReplicas, users } from '../db/schema';
import { internalToken } from '../security/master-key';
import { testRedisPrefix } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { startGatewayHarness, type GatewayHarness } from './testing/harness';

let h: GatewayHarness;
let redis: Redis;
let engine: OpenAIDouble;
let model: string;
const prefix = testRedisPrefix('gwerr');
const chat = (m: string, extra: Record<string, unknown> = {}) => ({ model: m, messages: [{ role: 'user', content: 'hi' }], ...extra });

beforeAll(async () => {
  redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  engine = await startOpenAIDouble({ tokens: 3 });
  h = await startGatewayHarness(
    'gwerr',
    {
      GATEWAY_MAX_BODY_BYTES: '2048',
      // A chat body may carry this much image data on top (images.ts): small, so the 413 test stops early.
      GATEWAY_MAX_REQUEST_IMAGE_BYTES: '4096',
      GATEWAY_FIRST_TOKEN_TIMEOUT_MS: '300',
      GATEWAY_RATE_LIMIT_PER_MINUTE: '3',
      REDIS_PREFIX: prefix,
    },
    { redis },
  );
  model = await deploy([engine.url]);
});

afterAll(async () => {
  await h?.close();
  await engine?.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

async function deploy(urls: string[], over: Parameters<typeof makeDeployment>[1] = {}) {
  const { deployment } = await makeDeployment(h.t.db, over, urls);
  await h.gateway.refresh();
  return deployment.name;
}

async function errorOf(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  expect(res.headers.get('x-enclave-overhead-ms')).toMatch(/^\d+\.\d{3}$/);
  const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  return { status: res.status, ...body.error };
}

test('a valid request goes through (the baseline every refusal below differs from)', async () => {
  const { key } = await h.keyFor();
  const res = await h.post('/v1/chat/completions', chat(model), key);
  expect(res.status).toBe(200);
  expect(((await res.json()) as { choices: unknown[] }).choices).toHaveLength(1);
});

test('400 names the bad field, for malformed JSON and every kind of bad value', async () => {
  const before = engine.received;
  const cases: [unknown, string | null, string][] = [
    ['{"model": "x", "messages": [', null, 'invalid_json'],
    ['[1,2]', null, 'invalid_body'],
    [{ messages: [{ role: 'user', content: 'x' }] }, 'model', 'invalid_value'],
    [{ model }, 'messages', 'invalid_value'],
    [{ model, messages: [] }, 'messages', 'invalid_value'],
    [{ model, messages: 'hello' }, 'messages', 'invalid_value'],
    [{ model, messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role', 'invalid_value'],
    [{ model, messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', 'invalid_value'],
    [chat(model, { max_tokens: -1 }), 'max_tokens', 'invalid_value'],
    [chat(model, { max_tokens: 10_000_000 }), 'max_tokens', 'invalid_value'],
    [chat(model, { max_tokens: 1.5 }), 'max_tokens', 'invalid_value'],
    [chat(model, { temperature: 2.5 }), 'temperature', 'invalid_value'],
    [chat(model, { temperature: 'hot' }), 'temperature', 'invalid_value'],
    [chat(model, { stream: 'yes' }), 'stream', 'invalid_value'],
    [chat(model, { stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop', 'invalid_value'],
  ];
  for (const [body, param, code] of cases) {
    const { key } = await h.keyFor(); // a key each: every request counts against the per-minute limit
    const e = await errorOf(await h.post('/v1/chat/completions', body, key));
    expect({ body, status: e.status, param: e.param, code: e.code, type: e.type }).toEqual({
      body,
      status: 400,
      param,
      code,
      type: 'invalid_request_error',
    });
  }
  const e = await errorOf(await h.post('/v1/completions', { model, prompt: [] }, (await h.keyFor()).key));
  expect([e.status, e.param]).toEqual([400, 'prompt']);
  expect(engine.received).toBe(before);
});

test('401 for a missing, malformed, unknown or revoked key, and for a bad internal call', async () => {
  const res = await fetch(h.gateway.url + '/v1/chat/completions', { method: 'POST', body: JSON.stringify(chat(model)) });
  expect(await errorOf(res)).toMatchObject({ status: 401, code: 'missing_api_key', type: 'authentication_error' });
  expect((await errorOf(await h.post('/v1/chat/completions', chat(model), 'nope'))).status).toBe(401);
  expect((await errorOf(await h.post('/v1/chat/completions', chat(model), 'sk-enc-' + 'x'.repeat(43)))).status).toBe(401);

  const { key, keyId, userId } = await h.keyFor();
  expect((await h.post('/v1/chat/completions', chat(model), key)).status).toBe(200);
  await h.t.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, keyId));
  // The harness trusts a key lookup for 200 ms; the first request after that may still be answered
  // from the stale entry while it reloads in the background, so the refusal lands within ttl + a query.
  expect(await errorOf(await eventually(() => h.post('/v1/chat/completions', chat(model), key)))).toMatchObject({ status: 401, message: /revoked/ });

  const token = internalToken(h.masterKey);
  expect((await errorOf(await h.post('/v1/chat/completions', chat(model), token))).status).toBe(401);
  const asUser = (id: string) => h.post('/v1/chat/completions', chat(model), token, { 'x-enclave-user-id': id });
  expect((await errorOf(await asUser('00000000-0000-4000-8000-000000000000'))).status).toBe(401);
  expect((await asUser(userId)).status).toBe(200);
  await h.t.db.update(users).set({ disabled: true }).where(eq(users.id, userId));
  expect((await errorOf(await eventually(() => asUser(userId)))).status).toBe(401);
});

/** Asks until the answer is a 401 (for up to 2 s), and returns it. */
function eventually(get: () => Promise<Response>): Promise<Response> {
  return until(
    'a 401',
    async () => {
      const res = await get();
      if (res.status === 401) return res;
      await res.body?.cancel();
    },
    2_000,
  );
}

test('403 when the key is scoped to other models, or the role may not use the model', async () => {
  const other = await deploy([engine.url]);
  const scoped = await h.keyFor('engineer', [other]);
  expect(await errorOf(await h.post('/v1/chat/completions', chat(model), scoped.key))).toMatchObject({
    status: 403,
    code: 'model_not_allowed',
    param: 'model',
  });
  expect((await h.post('/v1/chat/completions', chat(other), scoped.key)).status).toBe(200);

  const adminsOnly = await deploy([engine.url], { allowedRoles: ['admin', 'viewer'] });
  const user = await h.keyFor('user');
  expect(await errorOf(await h.post('/v1/chat/completions', chat(adminsOnly), user.key))).toMatchObject({ status: 403, message: /role 'user'/ });
  const viewer = await h.keyFor('viewer');
  expect((await h.post('/v1/chat/completions', chat(adminsOnly), viewer.key)).status).toBe(200);

  const models = (await (await fetch(h.gateway.url + '/v1/models', { headers: { authorization: `Bearer ${user.key}` } })).json()) as {
    data: { id: string }[];
  };
  expect(models.data.map((m) => m.id)).toContain(model);
  expect(models.data.map((m) => m.id)).not.toContain(adminsOnly);
});

test('404 model_not_found for an unknown model, and for an unknown endpoint', async () => {
  const { key } = await h.keyFor();
  expect(await errorOf(await h.post('/v1/chat/completions', chat('no-such-model'), key))).toMatchObject({
    status: 404,
    code: 'model_not_found',
    param: 'model',
  });
  expect((await errorOf(await h.post('/v1/moderations', {}, key))).status).toBe(404);
  // A refused request is still logged once the caller is known.
  await h.gateway.flushLogs();
  const logged = await h.t.db.execute(sql`SELECT count(*)::int AS n FROM request_logs WHERE model = 'no-such-model' AND status = 404`);
  expect(logged.rows[0]!.n).toBe(1);
});

test('413 for a body over the limit, without reading all of it', async () => {
  const { key } = await h.keyFor();
  const big = chat(model, { messages: [{ role: 'user', content: 'x'.repeat(5000) }] });
  expect(await errorOf(await h.post('/v1/chat/completions', big, key))).toMatchObject({ status: 413, code: 'request_too_large' });

  // Without a content-length the gateway must stop at the limit and answer, while the client keeps sending.
  const answer = await new Promise<string>((resolve) => {
    const socket = net.connect(h.gateway.port, '127.0.0.1', () => {
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\ntransfer-encoding: chunked\r\n\r\n`);
      const piece = 'a'.repeat(1000);
      const timer = setInterval(() => socket.write(`${piece.length.toString(16)}\r\n${piece}\r\n`), 5);
      let got = '';
      socket.on('data', (d) => (got += d.toString()));
      socket.on('close', () => {
        clearInterval(timer);
        resolve(got);
      });
      socket.on('error', () => {
        clearInterval(timer);
        resolve(got);
      });
    });
  });
  expect(answer).toMatch(/^HTTP\/1\.1 413/);
  expect(answer).toContain('"code":"request_too_large"');
});

test('429 with retry-after once a key passes its per-minute limit; other keys are unaffected', async () => {
  const { key } = await h.keyFor();
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await h.post('/v1/chat/completions', chat(model), key)).status);
  expect(statuses).toEqual([200, 200, 200, 429]);
  const res = await h.post('/v1/chat/completions', chat(model), key);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  expect(await errorOf(res)).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
  const fresh = await h.keyFor();
  expect((await h.post('/v1/chat/completions', chat(model), fresh.key)).status).toBe(200);
});

test('503 when the model has no ready replica', async () => {
  const { deployment } = await makeDeployment(h.t.db, {}, [engine.url]);
  await h.t.db.update(deploymentReplicas).set({ status: 'unhealthy' }).where(eq(deploymentReplicas.deploymentId, deployment.id));
  await h.gateway.refresh();
  const { key } = await h.keyFor();
  expect(await errorOf(await h.post('/v1/chat/completions', chat(deployment.name), key))).toMatchObject({
    status: 503,
    code: 'no_ready_replica',
  });
});

test('504 when the first token does not come in time, for a silent engine and one that sent only headers', async () => {
  for (const failure of ['hang', 'hang-after-headers'] as const) {
    const slow = await startOpenAIDouble({ failure });
    const name = await deploy([slow.url]);
    const { key } = await h.keyFor();
    const started = performance.now();
    const e = await errorOf(await h.post('/v1/chat/completions', chat(name, { stream: true }), key));
    const took = performance.now() - started;
    expect(e).toMatchObject({ status: 504, code: 'first_token_timeout', type: 'timeout_error' });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2000);
    await slow.close();
  }
});
