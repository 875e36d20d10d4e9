import fc from 'fast-check';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requestLogs } from '../db/schema';
import { makeDeployment } from '../testing/factories';
import { deepJson, hostileObject, hostileValue, samples } from '../testing/hostile-json';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { startGatewayHarness, type GatewayHarness } from './testing/harness';

/**
 * Every /v1 endpoint with hostile requests from a fixed seed: bodies built from OpenAI's field names
 * holding hostile values (some with the real model name, to reach the engine), arbitrary JSON, deep
 * nesting, broken JSON, wrong methods and paths. For every answer: no 5xx, and an error in OpenAI's
 * shape. Every request by a known key leaves exactly one request-log row, whatever the others held.
 */
const SEED = 20261205;
let h: GatewayHarness;
let engine: OpenAIDouble;
let model: string;
let key: { key: string; keyId: string };

beforeAll(async () => {
  engine = await startOpenAIDouble({ tokens: 2 });
  h = await startGatewayHarness('gwfuzz', { GATEWAY_MAX_CONCURRENT_PER_KEY: '0' });
  model = (await makeDeployment(h.t.db, {}, [engine.url])).deployment.name;
  await h.gateway.refresh();
  key = await h.keyFor('user');
});
afterAll(async () => {
  await h?.close();
  await engine?.close();
});

const FIELDS = ['model', 'messages', 'prompt', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'n', 'stop', 'seed', 'user', 'tools', 'presence_penalty'];

/** Requests in OpenAI's vocabulary, half of them naming the real model so they get past routing. */
const bodies = fc.tuple(hostileObject(FIELDS), fc.boolean(), fc.array(fc.record({ role: fc.constantFrom('user', 'system', 'assistant', 'tool', 'x'), content: hostileValue }), { maxLength: 3 })).map(
  ([body, realModel, messages]) => ({ ...body, ...(realModel ? { model, messages: messages.length ? messages : [{ role: 'user', content: 'hi' }] } : {}) }),
);

/** A valid request with one field made hostile: these get past validation often, and reach the engine. */
const nearlyValid = fc.tuple(fc.constantFrom(...FIELDS.filter((f) => f !== 'model')), hostileValue).map(([field, value]) => ({
  model,
  messages: [{ role: 'user', content: 'hi' }],
  prompt: 'hi',
  max_tokens: 2,
  [field]: value,
}));

it('no hostile request gets a 5xx; every refusal is an OpenAI error; every known request is logged once', async () => {
  const statuses = new Map<number, number>();
  const problems: string[] = [];
  let sent = 0;
  let logged = 0;
  const ask = async (method: string, path: string, body: string | undefined, authorization = `Bearer ${key.key}`, contentType = 'application/json') => {
    const res = await fetch(h.gateway.url + path, { method, headers: { authorization, 'content-type': contentType }, body });
    const text = await res.text();
    sent++;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status >= 500) problems.push(`${method} ${path}: ${res.status} ${text.slice(0, 200)} for ${body?.slice(0, 200)}`);
    if (res.status >= 400) {
      try {
        const e = (JSON.parse(text) as { error: Record<string, unknown> }).error;
        if (typeof e.message !== 'string' || typeof e.type !== 'string' || !('param' in e) || !('code' in e)) throw new Error('shape');
      } catch {
        problems.push(`${method} ${path}: ${res.status} is not an OpenAI error: ${text.slice(0, 200)}`);
      }
    }
    return res.status;
  };
  for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']) {
    const texts = [
      ...samples(bodies, 300, SEED).map((b) => JSON.stringify(b)),
      ...samples(nearlyValid, 200, SEED + 2).map((b) => JSON.stringify(b)),
      ...samples(hostileValue, 60, SEED + 1).map((v) => JSON.stringify(v) ?? 'null'),
      deepJson(5000, 'messages'),
      `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"x":${deepJson(100)}}`,
      '{"model":', '', '\u0000', '{"model":"\\ud800"}', `{"model":"${model}","messages":"${'x'.repeat(5 * 1024 * 1024)}"}`,
    ];
    for (const body of texts) {
      await ask('POST', path, body);
      logged++; // the key is known: accepted or refused, the request is logged
    }
    // A wrong method is refused before the key is read: answered, not logged.
    await ask('GET', path, undefined);
  }
  // Refused before anyone is known: not logged (no log flood from bad keys), still answered properly.
  for (const authorization of ['', 'Bearer ', 'Bearer sk-enc-' + '!'.repeat(43), `Bearer ${'x'.repeat(10_000)}`, 'Basic abc'])
    await ask('POST', '/v1/chat/completions', JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }), authorization);
  await ask('GET', '/v1/models', undefined);
  // /v1/files (files.ts): hostile uploads under each content type it reads, hostile ids, and references to them.
  const uploads = samples(hostileValue, 40, SEED + 3).map((v) => JSON.stringify(v) ?? 'null');
  for (const [i, body] of uploads.entries()) {
    const type = ['application/json', 'multipart/form-data; boundary=x', 'image/png', 'application/octet-stream', 'multipart/form-data'][i % 5]!;
    await ask('POST', `/v1/files?purpose=${encodeURIComponent(body.slice(0, 20))}`, `--x\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n${body}\r\n--x--\r\n`, undefined, type);
    logged++;
  }
  for (const id of ['x', '%00', '..%2f..', "'", '00000000-0000-4000-8000-000000000000', 'a'.repeat(5000)]) {
    await ask('GET', `/v1/files/${id}`, undefined);
    await ask('DELETE', `/v1/files/${id}`, undefined);
    await ask('GET', `/v1/files/${id}/content`, undefined);
    await ask('POST', '/v1/chat/completions', JSON.stringify({ model, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `enclave-file:${id}` } }] }] }));
    logged += 4;
  }
  await ask('GET', '/v1/files', undefined);
  logged++;
  await ask('PATCH', '/v1/files', '{}'); // a wrong method: answered, not logged
  for (const path of ['/v1/moderations', '/v1/../etc/passwd', '/v1/models/x', '/v1/%ZZ']) await ask('POST', path, '{}');
  await ask('POST', '/v1/chat/completions?x=%00', '{}');
  logged++; // a chat request (its query string is ignored) by the known key
  await ask('DELETE', '/v1/models', undefined);
  console.log(`/v1 fuzz: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  expect(problems).toEqual([]);

  const count = async () => (await h.t.db.select({ n: sql<number>`count(*)::int` }).from(requestLogs).where(eq(requestLogs.apiKeyId, key.keyId)))[0]!.n;
  // A stream the gateway ended early is logged when it notices the close: ask until every row is in.
  const flushed = async () => (await h.gateway.flushLogs(), await count()) >= logged;
  await until('every request logged', flushed, 15_000).catch(() => undefined);
  expect(await count()).toBe(logged);
}, 300_000);
