import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from './process';
import { metricValue, postJson, readEventStream, TEST_MODEL_PATH } from './test-support';

// One real engine process for the whole file: stories260K, one thread, as SOURCES.md asks.
let engine: StartedLlamaCppEngine;
const chat = (body: Record<string, unknown>) => postJson(`${engine.url}/v1/chat/completions`, body);
const complete = (body: Record<string, unknown>) => postJson(`${engine.url}/v1/completions`, body);
const messages = [
  { role: 'system', content: 'You tell short stories.' },
  { role: 'user', content: 'Tell me about a cat.' },
];

beforeAll(async () => {
  engine = await startLlamaCppEngine({ name: 'stories260K', modelPath: TEST_MODEL_PATH, threads: 1, context: 2048, sequences: 2 });
});
afterAll(async () => {
  await engine?.stop();
});

describe('streaming chat completions', () => {
  it('sends the role chunk, content chunks, the finish chunk, usage, then [DONE]', async () => {
    const res = await chat({ messages, max_tokens: 24, stream: true, stream_options: { include_usage: true }, seed: 1, ignore_eos: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = await readEventStream(res);

    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as Array<Record<string, any>>;
    const id = chunks[0]!.id;
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ id, object: 'chat.completion.chunk', model: 'stories260K' });
    }
    expect(chunks[0]!.choices[0]).toEqual({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null });

    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    const finish = chunks.at(-2)!;
    expect(finish.choices[0].delta).toEqual({});
    const content = chunks.slice(1, -2);
    expect(content.length).toBeGreaterThan(0);
    for (const chunk of content) {
      expect(chunk.choices[0].finish_reason).toBeNull();
      expect(typeof chunk.choices[0].delta.content).toBe('string');
      expect(chunk.usage).toBeNull();
    }

    // The chat template may end the turn early at "\nUser:"; otherwise the budget is spent exactly.
    const reason = finish.choices[0].finish_reason;
    expect(['stop', 'length']).toContain(reason);
    if (reason === 'length') expect(usage.usage.completion_tokens).toBe(24);
    else expect(usage.usage.completion_tokens).toBeLessThanOrEqual(24);
    // At most one delta per generated token (held-back text merges pieces, never splits them).
    expect(content.length).toBeLessThanOrEqual(usage.usage.completion_tokens);
    expect(usage.usage.prompt_tokens).toBeGreaterThan(5);
    expect(usage.usage.total_tokens).toBe(usage.usage.prompt_tokens + usage.usage.completion_tokens);
  });

  it('streams the same tokens it would answer whole, with the same usage', async () => {
    const body = { messages, max_tokens: 40, temperature: 0.9, seed: 7 };
    const whole = (await (await chat(body)).json()) as Record<string, any>;
    const events = (await readEventStream(await chat({ ...body, stream: true, stream_options: { include_usage: true } }))).slice(0, -1) as Array<
      Record<string, any>
    >;
    const streamed = events.map((e) => e.choices[0]?.delta?.content ?? '').join('');
    expect(streamed).toBe(whole.choices[0].message.content);
    expect(events.at(-1)!.usage).toEqual(whole.usage);
    expect(events.at(-2)!.choices[0].finish_reason).toBe(whole.choices[0].finish_reason);
  });

  it('omits usage from the stream unless include_usage is set', async () => {
    const events = await readEventStream(await chat({ messages, max_tokens: 5, stream: true }));
    const chunks = events.slice(0, -1) as Array<Record<string, any>>;
    expect(chunks.every((c) => !('usage' in c) && c.choices.length === 1)).toBe(true);
    expect(chunks.at(-1)!.choices[0].finish_reason).not.toBeNull();
  });
});

describe('non-streaming chat completions', () => {
  it('answers with a chat.completion object and real token counts', async () => {
    const res = await chat({ messages, max_tokens: 16, ignore_eos: true, stop: ['never-appears-zz'] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'stories260K',
      choices: [{ index: 0, message: { role: 'assistant' }, logprobs: null }],
    });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(typeof body.choices[0].message.content).toBe('string');
    if (body.choices[0].finish_reason === 'length') expect(body.usage.completion_tokens).toBe(16);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  });

  it('accepts content as an array of text parts and ignores unknown fields', async () => {
    const res = await chat({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
      max_tokens: 3,
      frequency_penalty: 0,
      user: 'someone',
      some_future_field: { nested: true },
    });
    expect(res.status).toBe(200);
  });
});

describe('sampling', () => {
  it('honours max_tokens exactly when nothing stops generation', async () => {
    for (const maxTokens of [1, 7, 33]) {
      const body = (await (await complete({ prompt: 'Once upon a time', max_tokens: maxTokens, ignore_eos: true })).json()) as Record<string, any>;
      expect(body.choices[0].finish_reason).toBe('length');
      expect(body.usage.completion_tokens).toBe(maxTokens);
    }
  });

  it('max_completion_tokens is the newer name for the same budget', async () => {
    const body = (await (await chat({ messages, max_completion_tokens: 4, ignore_eos: true, stop: 'zzzz' })).json()) as Record<string, any>;
    if (body.choices[0].finish_reason === 'length') expect(body.usage.completion_tokens).toBe(4);
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(4);
  });

  it('caps a budget past the context at the context', async () => {
    // A long prompt leaves little room, so the cap is reached quickly.
    const prompt = 'Once upon a time '.repeat(480);
    const body = (await (await complete({ prompt, max_tokens: 10_000_000, ignore_eos: true })).json()) as Record<string, any>;
    expect(body.usage.prompt_tokens).toBeGreaterThan(1800);
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.usage.total_tokens).toBe(2048);
  });

  it('refuses a prompt that leaves no room in the context', async () => {
    const res = await complete({ prompt: 'Once upon a time '.repeat(600), max_tokens: 5 });
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded' });
  });

  it('reproduces the same text for the same seed at temperature > 0, and differs across seeds', async () => {
    const run = async (seed: number) =>
      ((await (await complete({ prompt: 'Once upon a time', max_tokens: 60, temperature: 1.2, top_p: 0.95, seed, ignore_eos: true })).json()) as any)
        .choices[0].text as string;
    const first = await run(1234);
    expect(await run(1234)).toBe(first);
    const others = await Promise.all([run(1), run(2), run(3)]);
    expect(others.some((text) => text !== first)).toBe(true);
  });

  it('cuts the text at a stop sequence and reports finish_reason "stop"', async () => {
    // Find text the model really writes with this seed, then ask it to stop at a piece of it.
    const body = { prompt: 'Once upon a time', max_tokens: 40, temperature: 0.7, seed: 99, ignore_eos: true };
    const free = ((await (await complete(body)).json()) as any).choices[0].text as string;
    const stopAt = free.slice(15, 19);
    expect(stopAt.length).toBe(4);
    const expected = free.slice(0, free.indexOf(stopAt));

    const cut = (await (await complete({ ...body, stop: [stopAt, 'qqqqqq'] })).json()) as any;
    expect(cut.choices[0].finish_reason).toBe('stop');
    expect(cut.choices[0].text).toBe(expected);
    expect(cut.usage.completion_tokens).toBeLessThan(40);

    const streamed = (await readEventStream(await complete({ ...body, stop: stopAt, stream: true }))).slice(0, -1) as any[];
    expect(streamed.map((c) => c.choices[0].text).join('')).toBe(expected);
    expect(streamed.at(-1).choices[0].finish_reason).toBe('stop');
  });
});

describe('/v1/completions', () => {
  it('answers a text_completion whole', async () => {
    const res = await complete({ prompt: 'Once upon a time', max_tokens: 8, ignore_eos: true });
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ object: 'text_completion', model: 'stories260K', choices: [{ index: 0, finish_reason: 'length' }] });
    expect(body.id).toMatch(/^cmpl-/);
    expect(body.usage).toEqual({ prompt_tokens: body.usage.prompt_tokens, completion_tokens: 8, total_tokens: body.usage.prompt_tokens + 8 });
    expect(body.usage.prompt_tokens).toBeGreaterThanOrEqual(4);
  });

  it('streams text_completion chunks, the finish chunk, usage and [DONE]', async () => {
    const events = await readEventStream(
      await complete({ prompt: ['Once upon a time'], max_tokens: 12, stream: true, stream_options: { include_usage: true }, ignore_eos: true }),
    );
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as any[];
    expect(chunks.every((c) => c.object === 'text_completion')).toBe(true);
    expect(chunks.at(-1).usage.completion_tokens).toBe(12);
    expect(chunks.at(-2).choices[0].finish_reason).toBe('length');
    const text = chunks.slice(0, -2);
    expect(text.every((c) => typeof c.choices[0].text === 'string' && c.choices[0].finish_reason === null)).toBe(true);
  });
});

describe('discovery, health and metrics', () => {
  it('lists the served model', async () => {
    const body = (await (await fetch(`${engine.url}/v1/models`)).json()) as Record<string, any>;
    expect(body.object).toBe('list');
    expect(body.data).toEqual([expect.objectContaining({ id: 'stories260K', object: 'model', owned_by: 'enclave' })]);
  });

  it('reports healthy once the model is loaded', async () => {
    const res = await fetch(`${engine.url}/health`);
    expect(res.status).toBe(200);
  });

  it("counts requests and tokens under vLLM's metric names", async () => {
    const before = await (await fetch(`${engine.url}/metrics`)).text();
    const body = (await (await complete({ prompt: 'Once upon a time', max_tokens: 10, ignore_eos: true })).json()) as any;
    const res = await fetch(`${engine.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const after = await res.text();

    const delta = (name: string) => metricValue(after, name) - metricValue(before, name);
    expect(delta('vllm:prompt_tokens_total')).toBe(body.usage.prompt_tokens);
    expect(delta('vllm:generation_tokens_total')).toBe(10);
    expect(delta('vllm:time_to_first_token_seconds_count')).toBe(1);
    expect(delta('vllm:inter_token_latency_seconds_count')).toBe(9);
    expect(delta('vllm:e2e_request_latency_seconds_count')).toBe(1);
    expect(metricValue(after, 'vllm:num_requests_running')).toBe(0);
    expect(metricValue(after, 'vllm:num_requests_waiting')).toBe(0);
    expect(after).toContain('vllm:time_to_first_token_seconds_bucket{le="0.001",model_name="stories260K"}');
    expect(after).toContain('vllm:e2e_request_latency_seconds_bucket{le="7680",model_name="stories260K"}');
    expect(after).toMatch(/# TYPE vllm:inter_token_latency_seconds histogram/);
    // Every sample line parses as `name{labels} number`.
    for (const line of after.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^vllm:[a-z0-9_]+(\{[^}]*\})? [0-9.e+-]+$/);
    }
  });
});
