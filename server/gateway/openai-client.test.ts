import OpenAI from 'openai';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from '../engines/llamacpp/process';
import { makeDeployment } from '../testing/factories';
import { startGatewayHarness, type GatewayHarness } from './testing/harness';

/** The official OpenAI SDK (v6), streaming through the gateway from the real llamacpp engine running stories260K. */
const MODEL_PATH = new URL('../../models/stories260K.gguf', import.meta.url).pathname;

let h: GatewayHarness;
let engine: StartedLlamaCppEngine;
let name: string;

beforeAll(async () => {
  h = await startGatewayHarness('gwopenai');
  name = `stories-${Date.now().toString(36)}`;
  engine = await startLlamaCppEngine({ name, modelPath: MODEL_PATH, threads: 1, context: 1024, sequences: 2 });
  await makeDeployment(h.t.db, { name }, [engine.url]);
  await h.gateway.refresh();
});
afterAll(async () => {
  await h?.close();
  await engine?.stop();
});

test('the openai client streams a chat completion through the gateway from the real model', async () => {
  const { key, keyId } = await h.keyFor();
  const client = new OpenAI({ baseURL: h.gateway.url + '/v1', apiKey: key, maxRetries: 0 });
  const stream = await client.chat.completions.create({
    model: name,
    messages: [{ role: 'user', content: 'Tell me a story.' }],
    max_tokens: 24,
    stream: true,
    stream_options: { include_usage: true },
  });
  const pieces: string[] = [];
  let usage: OpenAI.CompletionUsage | undefined | null;
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta?.content;
    if (delta) pieces.push(delta);
    if (chunk.usage) usage = chunk.usage;
  }
  // Mechanics only (stories260K writes children's stories): several pieces, counted tokens.
  expect(pieces.length).toBeGreaterThan(1);
  expect(usage?.completion_tokens).toBeGreaterThan(0);
  expect(usage?.completion_tokens).toBeLessThanOrEqual(24);
  expect(usage?.prompt_tokens).toBeGreaterThan(0);

  const models = await client.models.list();
  expect(models.data.map((m) => m.id)).toContain(name);

  await expect(client.chat.completions.create({ model: 'missing-model', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
    status: 404,
    code: 'model_not_found',
  });

  await h.gateway.flushLogs();
  const rows = await h.t.db.execute(sql`SELECT status, completion_tokens, ttft_ms FROM request_logs WHERE api_key_id = ${keyId} AND status = 200`);
  expect(rows.rows).toEqual([expect.objectContaining({ completion_tokens: usage!.completion_tokens })]);
  expect(Number(rows.rows[0]!.ttft_ms)).toBeGreaterThan(0);
});
