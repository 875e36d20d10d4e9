import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startOpenAIDouble, type OpenAIDouble } from './openai-double';
import { startOpenAIDoubleProcess } from './openai-double-process';

// Tests of the double itself: every other test trusts that it speaks the protocol the official client reads.
const KEY = 'enc-replica-double-test';
let double: OpenAIDouble;
let client: OpenAI;

beforeAll(async () => {
  double = await startOpenAIDouble({
    apiKey: KEY,
    served: { servedName: 'base', modelPath: '/models/base', loraModules: [{ name: 'sql', path: '/adapters/sql' }] },
    tokens: 4,
    models: {
      sql: { token: (i) => ['SELECT ', '1', ';'][i] ?? '', tokens: 3, finishReason: 'stop' },
      base: {},
    },
  });
  client = new OpenAI({ baseURL: `${double.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
afterAll(() => double?.close());

test('the official client reads its streams, completions and model list', async () => {
  const stream = await client.chat.completions.create({ model: 'base', messages: [{ role: 'user', content: 'one two three' }], stream: true, stream_options: { include_usage: true } });
  const pieces: string[] = [];
  let usage: OpenAI.CompletionUsage | null | undefined;
  let finish: string | null | undefined;
  for await (const chunk of stream) {
    pieces.push(chunk.choices[0]?.delta?.content ?? '');
    finish ??= chunk.choices[0]?.finish_reason;
    usage ??= chunk.usage;
  }
  expect(pieces.join('')).toBe('tok0 tok1 tok2 tok3 ');
  expect([finish, usage]).toEqual(['length', { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }]);
  expect(double.requests.at(-1)!.tokenStamps).toHaveLength(4);

  const scripted = await client.chat.completions.create({ model: 'sql', messages: [{ role: 'user', content: 'q' }], max_tokens: 2 });
  expect([scripted.choices[0]!.message.content, scripted.choices[0]!.finish_reason, scripted.usage?.completion_tokens]).toEqual(['SELECT 1', 'stop', 2]);

  const text = await client.completions.create({ model: 'base', prompt: 'once upon', max_tokens: 2 });
  expect([text.choices[0]!.text, text.usage?.prompt_tokens]).toEqual(['tok0 tok1 ', 2]);

  expect((await client.models.list()).data.map((m) => [m.id, (m as unknown as { parent: string | null }).parent])).toEqual([['base', null], ['sql', 'base']]);
  await expect(client.chat.completions.create({ model: 'other', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 404 });
});

test("vLLM's key check: /v1 needs the bearer key (scheme in any case); /health and /metrics stay open", async () => {
  const before = double.received;
  for (const authorization of [undefined, 'Bearer wrong', KEY]) {
    const res = await fetch(`${double.url}/v1/chat/completions`, { method: 'POST', headers: authorization ? { authorization } : {}, body: '{"model":"base","messages":[]}' });
    expect([res.status, await res.json()]).toEqual([401, { error: 'Unauthorized' }]);
    expect(double.requests.at(-1)!.headers.authorization).toBe(authorization);
  }
  expect(double.received).toBe(before);
  expect((await fetch(`${double.url}/v1/models`)).status).toBe(401);
  expect((await fetch(`${double.url}/v1/models`, { headers: { authorization: `bEaReR ${KEY}` } })).status).toBe(200);
  expect((await fetch(`${double.url}/health`)).status).toBe(200);
  expect(await (await fetch(`${double.url}/metrics`)).text()).toMatch(/^vllm:generation_tokens_total\{engine="0",model_name="base"\} [1-9]/m);
});

test('scripted failures: an error status, a dropped stream, an error event', async () => {
  const failing = await startOpenAIDouble({ tokens: 5 });
  try {
    const post = (model: string) =>
      fetch(`${failing.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }], stream: true }) });
    failing.set({ failure: { status: 503, message: 'no ready replica', type: 'service_unavailable' } });
    const refused = await post('m');
    expect([refused.status, ((await refused.json()) as { error: { message: string } }).error.message]).toEqual([503, 'no ready replica']);

    failing.set({ failure: { dropAfterTokens: 2 } });
    const dropped = await post('m');
    await expect(dropped.text()).rejects.toThrow();

    failing.set({ failure: { errorAfterTokens: 1, message: 'The engine went away' } });
    const events = (await (await post('m')).text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: {"error":{"message":"The engine went away","type":"server_error"}}');
    expect(events.filter((e) => e.includes('"content":"tok'))).toHaveLength(1);
  } finally {
    await failing.close();
  }
});

test('in a process of its own, it reports what it recorded over IPC', async () => {
  const child = await startOpenAIDoubleProcess({ tokens: 3, firstTokenMs: 5, interTokenMs: 5 });
  try {
    const res = await fetch(`${child.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-request-id': 'r-1' },
      body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    expect(await res.text()).toContain('data: [DONE]');
    const [recorded] = await child.requests();
    expect(recorded).toMatchObject({ path: '/v1/chat/completions', headers: { 'x-request-id': 'r-1' }, body: { model: 'any' } });
    expect(recorded!.tokenStamps).toHaveLength(3);
    await child.clear();
    expect(await child.requests()).toEqual([]);
  } finally {
    await child.close();
  }
});
