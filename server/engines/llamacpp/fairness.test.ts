import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLlamaCppEngine, type StartedLlamaCppEngine } from './process';
import { postJson, streamGapsDuring, TEST_MODEL_PATH } from './test-support';

/**
 * Finding 10 of issue 9: two 3.9 MB prompts from one client stalled every other client's stream for
 * seconds, tokenized on the engine's event loop only to be refused. One engine with a large context
 * (so some long prompts are worth tokenizing) and one sequence: the stream holds it, the long prompts are
 * refused before they would need one. The bound on gaps is generous on purpose: it tells a stall of
 * seconds from the ordinary pace of tokens, not fast from slow.
 */
const CONTEXT = 262_144;
const MAX_GAP_MS = 1_000;
let engine: StartedLlamaCppEngine;
beforeAll(async () => {
  engine = await startLlamaCppEngine({ name: 'stories260K', modelPath: TEST_MODEL_PATH, threads: 1, context: CONTEXT, sequences: 1 });
});
afterAll(async () => {
  await engine?.stop();
});

const story = (bytes: number) => 'Once upon a time there was a little girl named Lily. '.repeat(Math.ceil(bytes / 53)).slice(0, bytes);

async function expectContextExceeded(res: Response, message: RegExp) {
  expect(res.status).toBe(400);
  const body = (await res.json()) as { error: Record<string, unknown> };
  expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded', message: expect.stringMatching(message) });
}

describe("another client's huge prompts", () => {
  it('two 3.9 MB prompts are refused by their size, untokenized, and the other stream never stalls', async () => {
    const huge = JSON.stringify({ messages: [{ role: 'user', content: story(3_900_000) }], max_tokens: 4 });
    const { longestGapMs, chunksAfter, result } = await streamGapsDuring(engine.url, () =>
      Promise.all([0, 1].map(() => fetch(`${engine.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: huge }))),
    );
    expect(chunksAfter).toBeGreaterThanOrEqual(20);
    expect(longestGapMs).toBeLessThan(MAX_GAP_MS);
    for (const res of result) await expectContextExceeded(res, /^The prompt is 39000\d\d bytes; this model's context holds 262144 tokens including the completion, which no prompt over \d+ bytes fits\.$/);
  });

  it('a 2.3 MB prompt that might fit by its size is tokenized off the event loop: the other stream keeps flowing', async () => {
    // Under the size bound (262,144 tokens x the longest token's bytes), so it must be tokenized to be judged.
    const long = { prompt: story(2_300_000), max_tokens: 4 };
    const { longestGapMs, chunksAfter, result } = await streamGapsDuring(engine.url, () => postJson(`${engine.url}/v1/completions`, long));
    expect(chunksAfter).toBeGreaterThanOrEqual(20);
    expect(longestGapMs).toBeLessThan(MAX_GAP_MS);
    await expectContextExceeded(result, /^The prompt is \d{6} tokens; this model's context holds 262144 including the completion\.$/);
  });
});
