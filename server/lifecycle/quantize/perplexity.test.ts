import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';
import { PerplexityInputError, perplexityOfText } from './perplexity';
import { perplexityWindows } from './perplexity-windows';

const FLUENT = [
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.',
  'One day, she saw a big red ball under a tree. She ran to the ball and picked it up.',
  'Her mom said, "Lily, let us go home now." Lily was happy and they went home together.',
].join(' ');

/** The same words in a fixed scrambled order: the same tokens mostly, but no sentences. */
function shuffledWords(text: string): string {
  const words = text.split(/\s+/);
  let state = 12345;
  for (let i = words.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [words[i], words[j]] = [words[j], words[i]];
  }
  return words.join(' ');
}

let llama: Llama;
let model: LlamaModel;
const options = { contextSize: 1024, threads: 1 };

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error });
  model = await llama.loadModel({ modelPath: TEST_MODEL_PATH });
});
afterAll(async () => {
  await llama?.dispose();
});

describe('perplexity on stories260K', () => {
  test('is finite and above 1, scores every text token after BOS, and repeats exactly', async () => {
    const first = await perplexityOfText(model, FLUENT, options);
    expect(Number.isFinite(first.perplexity)).toBe(true);
    expect(first.perplexity).toBeGreaterThan(1);
    // stories260K starts sequences with BOS, so every text token is predicted (the first from BOS alone).
    expect(model.tokens.shouldPrependBosToken).toBe(true);
    expect(first.tokens).toBe(model.tokenize(FLUENT, false).length);
    expect(first.windows).toBe(1);
    const second = await perplexityOfText(model, FLUENT, options);
    expect(second.perplexity).toBe(first.perplexity);
  });

  test('shuffled words are clearly less likely than the fluent text', async () => {
    const fluent = await perplexityOfText(model, FLUENT, options);
    const shuffled = await perplexityOfText(model, shuffledWords(FLUENT), options);
    expect(shuffled.perplexity).toBeGreaterThan(fluent.perplexity * 2);
  });

  test('a text longer than the context is scored in windows, each token once', async () => {
    const small = await perplexityOfText(model, FLUENT, { contextSize: 16, threads: 1 });
    expect(small.contextSize).toBeLessThanOrEqual(1024);
    expect(small.tokens).toBe(model.tokenize(FLUENT, false).length);
    expect(small.windows).toBeGreaterThan(1);
    expect(Number.isFinite(small.perplexity)).toBe(true);
  });

  test('empty and one-token texts are refused with a reason', async () => {
    await expect(perplexityOfText(model, '  \n', options)).rejects.toThrow(PerplexityInputError);
    await expect(perplexityOfText(model, '  \n', options)).rejects.toThrow(/empty/);
    await expect(perplexityOfText(model, 'a', options)).rejects.toThrow(/at least 2/);
  });
});

describe('windows', () => {
  test('with BOS every token is scored once; without, all but the first', () => {
    const text = [10, 11, 12, 13, 14, 15, 16];
    const withBos = perplexityWindows(text, 4, 1);
    expect(withBos.map((w) => w.input)).toEqual([[1, 10, 11], [1, 13, 14], [1]]);
    expect(withBos.flatMap((w) => w.predicts)).toEqual(text);
    const without = perplexityWindows(text, 4, null);
    expect(without.map((w) => w.input)).toEqual([[10, 11, 12], [13, 14, 15]]);
    expect(without.flatMap((w) => w.predicts)).toEqual(text.slice(1));
    for (const w of [...withBos, ...without]) expect(w.input.length).toBe(w.predicts.length);
  });
});

describe('enclave eval perplexity', () => {
  const bin = path.resolve(__dirname, '../../../bin/enclave.mjs');
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-ppl-'));
    fs.writeFileSync(path.join(dir, 'fluent.txt'), FLUENT);
    fs.writeFileSync(path.join(dir, 'empty.txt'), '');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]) => execa(process.execPath, [bin, 'eval', 'perplexity', ...args], { reject: false });

  test('prints {"perplexity","tokens"} matching the library', async () => {
    const out = await run(['--model', TEST_MODEL_PATH, '--text', path.join(dir, 'fluent.txt'), '--threads', '1']);
    expect(out.stderr).toBe('');
    expect(out.exitCode).toBe(0);
    const json = JSON.parse(out.stdout);
    expect(Object.keys(json)).toEqual(['perplexity', 'tokens']);
    const direct = await perplexityOfText(model, FLUENT, options);
    expect(json.tokens).toBe(direct.tokens);
    expect(json.perplexity).toBeCloseTo(direct.perplexity, 6);
  });

  test('missing files and empty texts fail with a message naming them', async () => {
    const noModel = await run(['--model', path.join(dir, 'none.gguf'), '--text', path.join(dir, 'fluent.txt')]);
    expect(noModel.exitCode).toBe(1);
    expect(noModel.stderr).toContain(`model file ${path.join(dir, 'none.gguf')}: no such file`);
    const empty = await run(['--model', TEST_MODEL_PATH, '--text', path.join(dir, 'empty.txt')]);
    expect(empty.exitCode).toBe(1);
    expect(empty.stderr).toContain('empty.txt is empty');
    const badContext = await run(['--model', TEST_MODEL_PATH, '--text', path.join(dir, 'fluent.txt'), '--context', 'x']);
    expect(badContext.exitCode).toBe(2);
    expect(badContext.stderr).toContain('--context must be a positive integer');
  });
});
