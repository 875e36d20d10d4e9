import net from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApiKey } from '../security/api-keys';
import { deployments } from '../db/schema';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { readEvents, startGatewayHarness, type GatewayHarness } from './testing/harness';

/**
 * What the gateway does when a deployment cannot answer (issue 14, part 4), through the real gateway
 * and engine doubles: fallback chains (with the caller's access checked on the fallback), the context
 * fallback, per-deployment timeouts and the retry budget, and what request_logs records of each.
 */
let h: GatewayHarness;
let caller: { userId: string; key: string; keyId: string };
const doubles: OpenAIDouble[] = [];

beforeAll(async () => {
  // Failures never set a replica aside here: each test counts what its replicas received.
  h = await startGatewayHarness('fallback', { GATEWAY_BREAKER_FAILURES: '1000' });
  caller = await h.keyFor();
});
afterAll(async () => {
  await h?.close();
  await Promise.all(doubles.map((d) => d.close()));
});

async function double(opts: Parameters<typeof startOpenAIDouble>[0] = {}) {
  const d = await startOpenAIDouble(opts);
  doubles.push(d);
  return d;
}

async function deadUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

async function deploy(urls: string[], over: Partial<typeof deployments.$inferInsert> = {}) {
  const made = await makeDeployment(h.t.db, over, urls);
  await h.gateway.refresh();
  return made;
}

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi there' }], ...extra });

async function logOf(requested: string) {
  await h.gateway.flushLogs();
  const res = await h.t.db.execute(
    sql`SELECT deployment_id, replica_id, fallback_from_id, fallback_reason, status, retries, error_type FROM request_logs WHERE model = ${requested} ORDER BY id`,
  );
  return res.rows as { deployment_id: string; replica_id: string | null; fallback_from_id: string | null; fallback_reason: string | null; status: number; retries: number; error_type: string | null }[];
}

test('every replica down: the next deployment of the chain answers, plain and streamed, and the log says which and why', async () => {
  const spare = await double();
  const b = await deploy([spare.url]);
  const a = await deploy([await deadUrl(), await deadUrl()], { fallbackDeploymentIds: [b.deployment.id] });
  const res = await h.post('/v1/chat/completions', chat(a.deployment.name), caller.key);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-enclave-fallback')).toBe(b.deployment.name);
  expect(JSON.parse(await res.text()).choices[0].message.content).toContain('tok0');
  // The fallback engine was asked for its own model.
  expect(spare.requests.at(-1)!.body!.model).toBe(b.deployment.name);

  const streamed = await h.post('/v1/chat/completions', chat(a.deployment.name, { stream: true }), caller.key);
  expect(streamed.headers.get('x-enclave-fallback')).toBe(b.deployment.name);
  const events = await readEvents(streamed);
  expect(events.at(-1)!.data).toBe('[DONE]');
  expect(events.some((e) => e.data.includes('"usage"'))).toBe(false);

  const rows = await logOf(a.deployment.name);
  expect(rows).toHaveLength(2);
  for (const r of rows)
    expect(r).toMatchObject({ status: 200, deployment_id: b.deployment.id, replica_id: b.replicas[0]!.id, fallback_from_id: a.deployment.id, fallback_reason: 'replicas_failed', retries: 1 });
});

test('the chain is tried in order, skipping a deployment the caller may not use; none usable gives the original error', async () => {
  const adminsOnly = await double();
  const open = await double();
  const restricted = await deploy([adminsOnly.url], { allowedRoles: ['admin'] });
  const fine = await deploy([open.url]);
  const a = await deploy([await deadUrl()], { fallbackDeploymentIds: [restricted.deployment.id, fine.deployment.id] });
  const res = await h.post('/v1/chat/completions', chat(a.deployment.name), caller.key);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-enclave-fallback')).toBe(fine.deployment.name);
  expect(adminsOnly.received).toBe(0);

  // Only a deployment this caller may not use: the caller gets A's own error, and it is never called.
  const lonely = await deploy([await deadUrl()], { fallbackDeploymentIds: [restricted.deployment.id] });
  const refused = await h.post('/v1/chat/completions', chat(lonely.deployment.name), caller.key);
  expect(refused.status).toBe(503);
  expect(refused.headers.get('x-enclave-fallback')).toBeNull();
  expect(JSON.parse(await refused.text()).error.code).toBe('replica_unreachable');
  expect(adminsOnly.received).toBe(0);

  // A key limited to A's name may not reach B through A either.
  const scoped = await createApiKey(h.t.db, { userId: caller.userId, name: 'scoped', models: [a.deployment.name] });
  const viaScope = await h.post('/v1/chat/completions', chat(a.deployment.name), scoped.key);
  expect(viaScope.status).toBe(503);
  expect(open.received).toBe(1);
  expect((await logOf(lonely.deployment.name))[0]).toMatchObject({ status: 503, fallback_from_id: null, fallback_reason: null });
});

test('a prompt too long for the model goes to its longer-context deployment; a short one stays', async () => {
  const small = await double({ contextTokens: 12 });
  const large = await double({ contextTokens: 4096 });
  const long = await deploy([large.url]);
  const short = await deploy([small.url], { contextFallbackDeploymentId: long.deployment.id });
  const prompt = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
  const res = await h.post('/v1/chat/completions', { model: short.deployment.name, messages: [{ role: 'user', content: prompt }], stream: true }, caller.key);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-enclave-fallback')).toBe(long.deployment.name);
  expect((await readEvents(res)).at(-1)!.data).toBe('[DONE]');
  const ok = await h.post('/v1/chat/completions', chat(short.deployment.name, { max_tokens: 2 }), caller.key);
  expect(ok.status).toBe(200);
  expect(ok.headers.get('x-enclave-fallback')).toBeNull();
  const rows = await logOf(short.deployment.name);
  expect(rows[0]).toMatchObject({ deployment_id: long.deployment.id, fallback_from_id: short.deployment.id, fallback_reason: 'context_length', status: 200 });
  expect(rows[1]).toMatchObject({ deployment_id: short.deployment.id, fallback_from_id: null });

  // Without a context fallback the engine's own 400 reaches the caller.
  const alone = await deploy([small.url]);
  const refused = await h.post('/v1/chat/completions', { model: alone.deployment.name, messages: [{ role: 'user', content: prompt }] }, caller.key);
  expect(refused.status).toBe(400);
  expect(await refused.text()).toMatch(/maximum context length is 12 tokens/);
});

test("a deployment's own time-to-first-token and total timeouts apply instead of the gateway's", async () => {
  const silent = await double({ failure: 'hang' });
  const slow = await double({ tokens: 50, interTokenMs: 100 });
  const a = await deploy([silent.url], { firstTokenTimeoutMs: 300 });
  let started = performance.now();
  const timedOut = await h.post('/v1/chat/completions', chat(a.deployment.name, { stream: true }), caller.key);
  expect(timedOut.status).toBe(504);
  expect(JSON.parse(await timedOut.text()).error).toMatchObject({ code: 'first_token_timeout', message: 'No token from the engine within 300 ms' });
  expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  expect(performance.now() - started).toBeLessThan(3000);

  const b = await deploy([slow.url], { requestTimeoutMs: 600 });
  started = performance.now();
  const cut = await h.post('/v1/chat/completions', chat(b.deployment.name, { stream: true }), caller.key);
  expect(cut.status).toBe(200);
  const events = await readEvents(cut);
  expect(events.at(-1)!.data).toMatch(/request_timeout/);
  expect(performance.now() - started).toBeLessThan(3000);

  // A timed-out first token moves to the other replica before anything reached the client.
  const quick = await double();
  const c = await deploy([silent.url, quick.url], { firstTokenTimeoutMs: 300 });
  for (let i = 0; i < 2; i++) {
    const res = await h.post('/v1/chat/completions', chat(c.deployment.name, { stream: true }), caller.key);
    expect(res.status).toBe(200);
    await res.text();
  }
  expect(quick.received).toBe(2);
});

test('the retry budget: max retries per request, and a ratio of recent requests', async () => {
  const failing = () => double({ failure: { status: 500, message: 'engine failed' } });
  const three = [await failing(), await failing(), await failing()];
  const total = () => three.reduce((n, d) => n + d.received, 0);

  const unlimited = await deploy(three.map((d) => d.url));
  expect((await h.post('/v1/chat/completions', chat(unlimited.deployment.name), caller.key)).status).toBe(500);
  expect(total()).toBe(3);

  const once = await deploy(three.map((d) => d.url), { maxRetries: 1 });
  expect((await h.post('/v1/chat/completions', chat(once.deployment.name), caller.key)).status).toBe(500);
  expect(total()).toBe(5);

  const none = await deploy(three.map((d) => d.url), { retryBudgetRatio: 0 });
  for (let i = 0; i < 3; i++) expect((await h.post('/v1/chat/completions', chat(none.deployment.name), caller.key)).status).toBe(500);
  expect(total()).toBe(8);

  // Retries at most half of recent requests: the 1st and 3rd may not retry (1 > 0.5, 2 > 1.5), the 2nd and 4th may once.
  const half = await deploy(three.map((d) => d.url), { retryBudgetRatio: 0.5 });
  for (let i = 0; i < 4; i++) await (await h.post('/v1/chat/completions', chat(half.deployment.name), caller.key)).text();
  const rows = await logOf(half.deployment.name);
  const retries = rows.reduce((n, r) => n + r.retries, 0);
  expect(retries).toBeGreaterThan(0);
  expect(retries).toBeLessThanOrEqual(2);
  expect((await logOf(once.deployment.name))[0]!.retries).toBe(1);
});
