import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from './process';
import { postJson, TEST_MODEL_PATH } from './test-support';

// A real engine process (stories260K, one thread): /v1/embeddings from node-llama-cpp's embedding context.
let engine: StartedLlamaCppEngine;
const embed = (body: Record<string, unknown>) => postJson(`${engine.url}/v1/embeddings`, body);
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);

beforeAll(async () => {
  engine = await startLlamaCppEngine({ name: 'stories260K', modelPath: TEST_MODEL_PATH, threads: 1, context: 256, sequences: 1 });
});
afterAll(async () => {
  await engine?.stop();
});

describe('POST /v1/embeddings', () => {
  it('answers in OpenAI’s shape with unit vectors, in input order, the same text always the same vector', async () => {
    const inputs = ['Once upon a time there was a cat.', 'Once upon a time there was a little cat.', 'The quarterly bond yields fell sharply.', 'Once upon a time there was a cat.'];
    const res = await embed({ model: 'stories260K', input: inputs });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; model: string; data: { object: string; index: number; embedding: number[] }[]; usage: { prompt_tokens: number; total_tokens: number } };
    expect(body.object).toBe('list');
    expect(body.model).toBe('stories260K');
    expect(body.data.map((d) => [d.object, d.index])).toEqual(inputs.map((_, i) => ['embedding', i]));
    const [cat, littleCat, bonds, catAgain] = body.data.map((d) => d.embedding);
    expect(cat!.length).toBe(64); // stories260K's embedding width
    for (const v of [cat!, littleCat!, bonds!]) expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 5);
    expect(catAgain).toEqual(cat);
    // Even a 260K-parameter model puts the two cat sentences closer together than cat and bonds.
    expect(dot(cat!, littleCat!)).toBeGreaterThan(dot(cat!, bonds!));
    expect(body.usage.prompt_tokens).toBeGreaterThan(inputs.length);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens);
  });

  it('works with the OpenAI SDK (base64 by default), and token-id input', async () => {
    const client = new OpenAI({ baseURL: `${engine.url}/v1`, apiKey: 'unused' });
    const viaSdk = await client.embeddings.create({ model: 'stories260K', input: 'A dog ran home.' });
    const plain = (await (await embed({ input: 'A dog ran home.', encoding_format: 'float' })).json()) as { data: { embedding: number[] }[] };
    expect(viaSdk.data[0]!.embedding.length).toBe(64);
    viaSdk.data[0]!.embedding.forEach((v, i) => expect(v).toBeCloseTo(plain.data[0]!.embedding[i]!, 6));
    const tokens = await embed({ input: [[1, 2, 3, 4], [5, 6]] });
    expect(tokens.status).toBe(200);
    expect(((await tokens.json()) as { data: unknown[] }).data).toHaveLength(2);
  });

  it('refuses bad input with a 400 that says what is wrong', async () => {
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ input: [] }, 400, /input must not be empty/],
      [{ input: '' }, 400, /must not be empty/],
      [{ input: 42 }, 400, /Invalid 'input'/],
      [{ input: Array.from({ length: 2049 }, () => 'x') }, 400, /at most 2048 inputs/],
      [{ input: 'once '.repeat(400) }, 400, /embeds at most 256 tokens/],
      [{ input: [[1, 99999]] }, 400, /outside this model's vocabulary \(512 tokens\)/],
      [{ input: 'hi', dimensions: 32 }, 400, /64 dimensions and cannot be shortened to 32/],
      [{ input: 'hi', encoding_format: 'int8' }, 400, /encoding_format/],
      [{ model: 'other', input: 'hi' }, 404, /does not exist/],
    ];
    for (const [body, status, message] of cases) {
      const res = await embed(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
    // And the engine still embeds and chats afterwards.
    expect((await embed({ input: 'still here' })).status).toBe(200);
    const chat = await postJson(`${engine.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 });
    expect(chat.status).toBe(200);
  });
});
