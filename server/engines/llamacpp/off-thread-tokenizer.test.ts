import { getLlama, LlamaLogLevel, type LlamaModel } from 'node-llama-cpp';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { OffThreadTokenizer } from './off-thread-tokenizer';
import { TEST_MODEL_PATH } from './test-support';

let model: LlamaModel;
let tokenizer: OffThreadTokenizer;
beforeAll(async () => {
  const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error });
  model = await llama.loadModel({ modelPath: TEST_MODEL_PATH, vocabOnly: true });
  tokenizer = new OffThreadTokenizer(TEST_MODEL_PATH);
  await tokenizer.start();
});
afterAll(async () => {
  await tokenizer?.close();
  await model?.dispose();
});

it('gives exactly the tokens the model gives on this thread, for long and awkward text, in any order', async () => {
  const texts = [
    'Once upon a time there was a little girl named Lily. '.repeat(2_000),
    'naïve café — 東京 🚀 \u0000 tabs\tand\nnewlines  double  spaces',
    '\uD800 a lone surrogate, then more text',
    ' leading space',
  ];
  const offThread = await Promise.all(texts.map((text) => tokenizer.tokenize(text)));
  expect(offThread).toEqual(texts.map((text) => model.tokenize(text, false)));
});

it('refuses work once closed', async () => {
  const closing = new OffThreadTokenizer(TEST_MODEL_PATH);
  await closing.start();
  await closing.close();
  await expect(closing.tokenize('x')).rejects.toThrow(/shutting down/);
});

it('ends its thread by asking it, never by terminating it, even while it is still loading', async () => {
  // Terminating a thread that holds llama.cpp can abort the whole process (it did, in CI: "terminate called
  // after throwing an instance of 'Napi::Error'").
  const terminate = vi.spyOn(Worker.prototype, 'terminate');
  try {
    const used = new OffThreadTokenizer(TEST_MODEL_PATH);
    expect((await used.tokenize('Once upon a time')).length).toBeGreaterThan(0);
    await used.close();
    const loading = new OffThreadTokenizer(TEST_MODEL_PATH);
    const started = loading.start().catch((e: Error) => e.message);
    await loading.close();
    expect(await started).toMatch(/shutting down/);
    expect(terminate).not.toHaveBeenCalled();
  } finally {
    terminate.mockRestore();
  }
});
