import { sql } from 'drizzle-orm';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from '../engines/llamacpp/process';
import { TEST_MODEL_PATH } from '../engines/llamacpp/test-support';
import { makeDeployment } from '../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../testing/openai-double';
import { startGatewayHarness, type GatewayHarness } from './testing/harness';

// /v1/embeddings through the gateway: keys, scopes, validation, request logs and metrics like chat, to the
// built-in engine (a real stories260K process) and to a vLLM embedding deployment (the OpenAI double).
let h: GatewayHarness;
let engine: StartedLlamaCppEngine;
let vllm: OpenAIDouble;
let builtIn: string;
let remote: string;

beforeAll(async () => {
  [engine, vllm, h] = await Promise.all([
    startLlamaCppEngine({ name: 'stories260K', modelPath: TEST_MODEL_PATH, threads: 1, context: 256, sequences: 1 }),
    startOpenAIDouble(),
    startGatewayHarness('gwembed'),
  ]);
  builtIn = (await makeDeployment(h.t.db, { name: 'stories260K' }, [engine.url])).deployment.name;
  remote = (await makeDeployment(h.t.db, { engine: 'vllm' }, [vllm.url])).deployment.name;
  await h.gateway.refresh();
});

afterAll(async () => {
  await h?.close();
  await engine?.stop();
  await vllm?.close();
});

test('the OpenAI SDK gets embeddings from the built-in engine through the gateway; the request is logged with its tokens', async () => {
  const { key, keyId } = await h.keyFor();
  const client = new OpenAI({ baseURL: `${h.gateway.url}/v1`, apiKey: key });
  const res = await client.embeddings.create({ model: builtIn, input: ['A cat sat.', 'A dog ran.'] });
  expect(res.data.map((d) => d.index)).toEqual([0, 1]);
  expect(res.data[0]!.embedding).toHaveLength(64);
  expect(res.usage.prompt_tokens).toBeGreaterThan(2);
  await h.gateway.flushLogs();
  const rows = await h.t.db.execute<{ status: number; stream: boolean; prompt_tokens: number; completion_tokens: number | null; replica_id: string | null }>(
    sql`SELECT status, stream, prompt_tokens, completion_tokens, replica_id FROM request_logs WHERE api_key_id = ${keyId}`,
  );
  expect(rows.rows).toHaveLength(1);
  expect(rows.rows[0]).toMatchObject({ status: 200, prompt_tokens: res.usage.prompt_tokens });
  expect(Boolean(rows.rows[0]!.stream)).toBe(false);
  expect(rows.rows[0]!.replica_id).not.toBeNull();
  const metrics = await (await fetch(`${h.gateway.url}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`enclave_gateway_e2e_seconds_count\\{model="${builtIn}"[^}]*status="200"\\} 1`));
});

test('a vLLM embedding deployment is routed the same way', async () => {
  const { key } = await h.keyFor();
  const res = await h.post('/v1/embeddings', { model: remote, input: 'quarterly report' }, key);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { data: { embedding: number[] }[]; usage: { prompt_tokens: number } };
  expect(body.data[0]!.embedding).toHaveLength(8);
  expect(body.usage.prompt_tokens).toBe(2);
  const sent = vllm.requests.at(-1)!;
  expect(sent.path).toBe('/v1/embeddings');
  expect(sent.body).toMatchObject({ model: remote, input: 'quarterly report' });
});

test('bad requests get a 400 naming the field, before any engine sees them; scopes and unknown models as for chat', async () => {
  const { key } = await h.keyFor();
  const before = vllm.received;
  const cases: [unknown, string][] = [
    [{ model: remote }, 'input'],
    [{ model: remote, input: [] }, 'input'],
    [{ model: remote, input: [1, 'a'] }, 'input'],
    [{ model: remote, input: Array.from({ length: 2049 }, () => 'x') }, 'input'],
    [{ model: remote, input: 'x', stream: true }, 'stream'],
    [{ model: remote, input: 'x', encoding_format: 'int8' }, 'encoding_format'],
    [{ model: remote, input: 'x', dimensions: 0 }, 'dimensions'],
  ];
  for (const [body, param] of cases) {
    const res = await h.post('/v1/embeddings', body, key);
    expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
  }
  expect(vllm.received).toBe(before);
  expect((await h.post('/v1/embeddings', { model: 'no-such-model', input: 'x' }, key)).status).toBe(404);
  const scoped = await h.keyFor('user', [builtIn]);
  const refused = await h.post('/v1/embeddings', { model: remote, input: 'x' }, scoped.key);
  expect(refused.status).toBe(403);
  expect((await h.post('/v1/embeddings', { model: remote, input: 'x' }, 'sk-not-a-key')).status).toBe(401);
  // The engine's own refusal (an input longer than its context) reaches the caller as the engine said it.
  const long = await h.post('/v1/embeddings', { model: builtIn, input: 'once '.repeat(400) }, key);
  expect(long.status).toBe(400);
  expect(((await long.json()) as { error: { message: string } }).error.message).toMatch(/at most 256 tokens per input/);
});
