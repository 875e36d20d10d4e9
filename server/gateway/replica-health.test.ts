import { afterAll, beforeAll, expect, test } from 'vitest';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { startGatewayHarness, type GatewayHarness } from './testing/harness';

/**
 * A replica that keeps failing is set aside (replica-health.ts), through the real gateway and two engine
 * doubles: after 2 failures in a row it gets no request for the cooldown, then one request probes it, and
 * once it answers it serves again. With every replica set aside the caller is told when to retry.
 */
let h: GatewayHarness;
let healthy: OpenAIDouble;
let broken: OpenAIDouble;
let key: string;
// Long enough that a slow machine serves the requests below within one cooldown.
const COOLDOWN_MS = 3_000;

beforeAll(async () => {
  h = await startGatewayHarness('breaker', { GATEWAY_BREAKER_FAILURES: '2', GATEWAY_BREAKER_COOLDOWN_MS: String(COOLDOWN_MS) });
  healthy = await startOpenAIDouble({ tokens: 2 });
  broken = await startOpenAIDouble({ tokens: 2, failure: { status: 500, message: 'CUDA error: an illegal memory access was encountered' } });
  key = (await h.keyFor()).key;
});

afterAll(async () => {
  await h?.close();
  await healthy?.close();
  await broken?.close();
});

async function ask(model: string, stream = false) {
  const res = await h.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }], stream }, key);
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

test('a failing replica is set aside after 2 failures in a row, probed after the cooldown, and back once it answers', async () => {
  const { deployment } = await makeDeployment(h.t.db, {}, [healthy.url, broken.url]);
  await h.gateway.refresh();
  // Every caller is served (a failed try moves to the other replica before any byte is sent)...
  for (let i = 0; i < 12; i++) expect((await ask(deployment.name, i % 2 === 1)).status).toBe(200);
  // ...and the broken replica stopped receiving requests after its second failure.
  expect(broken.received).toBe(2);
  expect(healthy.received).toBe(12);

  // After the cooldown one request probes it; it still fails, so it is set aside again at once.
  await new Promise((r) => setTimeout(r, COOLDOWN_MS + 50));
  for (let i = 0; i < 6; i++) expect((await ask(deployment.name)).status).toBe(200);
  expect(broken.received).toBe(3);

  // Repaired: the next probe succeeds and it takes its share again.
  broken.set({ failure: null });
  await new Promise((r) => setTimeout(r, COOLDOWN_MS + 50));
  for (let i = 0; i < 10; i++) expect((await ask(deployment.name)).status).toBe(200);
  expect(broken.received).toBeGreaterThanOrEqual(3 + 4);
});

test('with every replica set aside, the caller gets a 503 that says so and when to retry', async () => {
  const down = await startOpenAIDouble({ failure: { status: 503, message: 'engine overloaded' } });
  try {
    const { deployment } = await makeDeployment(h.t.db, {}, [down.url]);
    await h.gateway.refresh();
    // The engine's own errors while it is counted...
    expect((await ask(deployment.name)).status).toBe(503);
    expect((await ask(deployment.name)).status).toBe(503);
    // ...then the gateway stops sending to it and says why.
    const refused = await ask(deployment.name);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body).error).toMatchObject({ code: 'replicas_set_aside' });
    expect(JSON.parse(refused.body).error.message).toMatch(/failed 2 times in a row and is set aside; retry in [123] s$/);
    expect(['1', '2', '3']).toContain(refused.retryAfter);
    expect(down.received).toBe(2);
    const metrics = await (await fetch(`${h.gateway.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`enclave_gateway_replica_set_aside_total\\{deployment="${deployment.id}"\\} 1`));
  } finally {
    await down.close();
  }
});
