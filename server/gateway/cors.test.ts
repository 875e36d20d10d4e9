import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseEnv } from '../core/env';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { startGatewayHarness, type GatewayHarness } from './testing/harness';

/**
 * Browser apps call /v1 only from origins on ENCLAVE_CORS_ORIGINS (none by default), through the real
 * gateway: what a browser's preflight and its request get, for a listed origin and for any other.
 */
const APP = 'https://app.example.test';
let h: GatewayHarness;
let closed: GatewayHarness;
let engine: OpenAIDouble;
let key: string;
let model: string;

beforeAll(async () => {
  h = await startGatewayHarness('cors', { ENCLAVE_CORS_ORIGINS: `${APP}, https://other.example.test:8443` });
  closed = await startGatewayHarness('corsnone');
  engine = await startOpenAIDouble({ tokens: 2 });
  model = (await makeDeployment(h.t.db, {}, [engine.url])).deployment.name;
  await h.gateway.refresh();
  key = (await h.keyFor()).key;
});

afterAll(async () => {
  await h?.close();
  await closed?.close();
  await engine?.close();
});

const preflight = (base: string, origin: string, headers = 'authorization, content-type, x-stainless-os') =>
  fetch(`${base}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
  });

test('a listed origin passes the preflight and reads the answer, with the headers SDKs send', async () => {
  const pre = await preflight(h.gateway.url, APP);
  expect(pre.status).toBe(204);
  expect(pre.headers.get('access-control-allow-origin')).toBe(APP);
  expect(pre.headers.get('access-control-allow-methods')).toBe('GET, POST');
  expect(pre.headers.get('access-control-allow-headers')).toBe('authorization, content-type, x-stainless-os');
  expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
  expect(pre.headers.get('vary')).toBe('origin');
  const res = await h.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] }, key, { origin: APP });
  expect(res.status).toBe(200);
  expect(res.headers.get('access-control-allow-origin')).toBe(APP);
  expect(res.headers.get('access-control-expose-headers')).toContain('retry-after');
  const models = await fetch(`${h.gateway.url}/v1/models`, { headers: { authorization: `Bearer ${key}`, origin: 'https://other.example.test:8443' } });
  expect(models.headers.get('access-control-allow-origin')).toBe('https://other.example.test:8443');
});

test('any other origin, and every origin by default, is refused at the preflight and never gets CORS headers', async () => {
  for (const [base, origin] of [
    [h.gateway.url, 'https://evil.example'],
    [h.gateway.url, 'http://app.example.test'],
    [closed.gateway.url, APP],
  ] as const) {
    const pre = await preflight(base, origin);
    expect(pre.status).toBe(403);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect((await pre.json()).error).toMatchObject({ code: 'cors_origin_not_allowed' });
  }
  const res = await h.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] }, key, { origin: 'https://evil.example' });
  expect(res.headers.get('access-control-allow-origin')).toBeNull();
});

test("Enclave's internal headers are never allowed from a browser, and a bad origin setting stops the start naming it", async () => {
  const pre = await preflight(h.gateway.url, APP, 'authorization, x-enclave-user-id');
  expect(pre.status).toBe(403);
  expect((await pre.json()).error.message).toBe('These request headers are not allowed: x-enclave-user-id');
  expect(() => parseEnv({ ENCLAVE_CORS_ORIGINS: 'https://app.example.test/path' })).toThrow(/ENCLAVE_CORS_ORIGINS.*not an origin/s);
  expect(() => parseEnv({ ENCLAVE_CORS_ORIGINS: '*' })).toThrow(/ENCLAVE_CORS_ORIGINS/);
});
