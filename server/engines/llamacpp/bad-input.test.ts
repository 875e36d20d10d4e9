import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from './process';
import { postJson, TEST_MODEL_PATH } from './test-support';

let engine: StartedLlamaCppEngine;
beforeAll(async () => {
  engine = await startLlamaCppEngine({ name: 'stories260K', modelPath: TEST_MODEL_PATH, threads: 1, context: 1024, sequences: 1 });
});
afterAll(async () => {
  await engine?.stop();
});

const chatUrl = () => `${engine.url}/v1/chat/completions`;
const ok = { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 };

async function expectError(res: Response, status: number, param?: string | null) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = (await res.json()) as { error: Record<string, unknown> };
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof body.error.message).toBe('string');
  expect((body.error.message as string).length).toBeGreaterThan(5);
  if (param !== undefined) expect(body.error.param).toBe(param);
  return body.error;
}

describe('bad input gets an OpenAI error object, never a crash', () => {
  it('malformed JSON is a 400', async () => {
    const res = await fetch(chatUrl(), { method: 'POST', body: '{"messages": [', headers: { 'content-type': 'application/json' } });
    const error = await expectError(res, 400, null);
    expect(error.code).toBe('invalid_json');
  });

  it('a body that is not an object is a 400', async () => {
    for (const body of ['[]', '"text"', '42', 'null']) {
      await expectError(await fetch(chatUrl(), { method: 'POST', body }), 400);
    }
  });

  it.each([
    ['empty messages', { messages: [] }, 'messages'],
    ['missing messages', { max_tokens: 3 }, 'messages'],
    ['messages not an array', { messages: 'hello' }, 'messages'],
    ['unknown role', { messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role'],
    ['content a number', { messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    ['negative max_tokens', { ...ok, max_tokens: -1 }, 'max_tokens'],
    ['zero max_tokens', { ...ok, max_tokens: 0 }, 'max_tokens'],
    ['fractional max_tokens', { ...ok, max_tokens: 2.5 }, 'max_tokens'],
    ['max_tokens as text', { ...ok, max_tokens: '10' }, 'max_tokens'],
    ['astronomic max_tokens', { ...ok, max_tokens: 1e300 }, 'max_tokens'],
    ['temperature above 2', { ...ok, temperature: 3 }, 'temperature'],
    ['top_p above 1', { ...ok, top_p: 1.5 }, 'top_p'],
    ['seed as text', { ...ok, seed: 'abc' }, 'seed'],
    ['five stop sequences', { ...ok, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    ['empty stop sequence', { ...ok, stop: '' }, 'stop'],
    ['n above 1', { ...ok, n: 2 }, 'n'],
    ['stream not a boolean', { ...ok, stream: 'yes' }, 'stream'],
  ])('%s is a 400 naming the field', async (_label, body, param) => {
    await expectError(await postJson(chatUrl(), body), 400, param);
  });

  it('/v1/completions without a prompt is a 400', async () => {
    await expectError(await postJson(`${engine.url}/v1/completions`, { max_tokens: 3 }), 400, 'prompt');
  });

  it('a model name other than the served one is a 404, as vLLM answers', async () => {
    const error = await expectError(await postJson(chatUrl(), { ...ok, model: 'gpt-4' }), 404, 'model');
    expect(error.code).toBe('model_not_found');
  });

  it('a body over the 8 MiB limit is a 413, announced or streamed', async () => {
    // The engine answers as soon as it knows and closes the connection without reading the rest, so a
    // client still writing may see EPIPE after the answer: what counts is the answer it got first.
    const oversized = (headers: Record<string, string | number>, chunks: number) =>
      new Promise<number>((resolve, reject) => {
        let status = 0;
        const req = request(chatUrl(), { method: 'POST', headers }, (res) => {
          status = res.statusCode!;
          res.resume();
          res.on('end', () => resolve(status));
        });
        req.on('error', (e) => (status ? resolve(status) : reject(e)));
        const piece = 'x'.repeat(64 * 1024);
        let sent = 0;
        const pump = () => {
          while (sent < chunks) {
            sent++;
            if (!req.write(piece)) return void req.once('drain', pump);
          }
          req.end();
        };
        pump();
      });
    // Announced with content-length: refused before parsing any of it (the rest is drained, not buffered).
    expect(await oversized({ 'content-length': 9 * 1024 * 1024 }, 144)).toBe(413);
    // Without content-length (chunked), the limit is enforced while reading.
    expect(await oversized({ 'transfer-encoding': 'chunked' }, 136)).toBe(413); // 8.5 MiB
  });

  it('an unknown path is a 404 and a wrong method is not served', async () => {
    await expectError(await fetch(`${engine.url}/v1/moderations`, { method: 'POST', body: '{}' }), 404);
    await expectError(await fetch(`${engine.url}/v1/chat/completions`), 404);
  });

  it('still serves after all of the above', async () => {
    const res = await postJson(chatUrl(), ok);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).choices[0].message.role).toBe('assistant');
    expect(engine.logs().join('\n')).not.toContain('Hi');
  });
});
