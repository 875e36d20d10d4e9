import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';
import { validateDataset } from './validate';

let dir: string;
let llama: Llama;
let model: LlamaModel;
const tokenize = (text: string) => model.tokenize(text, false);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-datasets-'));
  llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error });
  model = await llama.loadModel({ modelPath: TEST_MODEL_PATH });
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await llama?.dispose();
});

/** Writes the lines to a real file and validates it through a file stream, as an upload would arrive. */
async function validateLines(name: string, lines: Array<string | object>, options: Parameters<typeof validateDataset>[1] = {}) {
  const file = path.join(dir, name);
  const text = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
  fs.writeFileSync(file, text);
  // A small highWaterMark splits lines across chunks, as a network upload does.
  const result = await validateDataset(fs.createReadStream(file, { highWaterMark: 64 }), options);
  return { result, sha256: createHash('sha256').update(text).digest('hex'), bytes: Buffer.byteLength(text) };
}

const openaiRow = (q: string, a: string) => ({ messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: q }, { role: 'assistant', content: a }] });
const alpacaRow = (i: string, o: string, input?: string) => ({ instruction: i, ...(input === undefined ? {} : { input }), output: o });
const sharegptRow = (q: string, a: string) => ({ conversations: [{ from: 'human', value: q }, { from: 'gpt', value: a }] });

describe('good files', () => {
  test('OpenAI messages: rows, counts, token statistics from the real tokenizer, preview and sha256', async () => {
    const rows = [openaiRow('A story about a cat.', 'Once upon a time there was a cat.'), openaiRow('And a dog?', 'The dog liked to run in the park.'), openaiRow('A bird.', 'A bird sang.')];
    const { result, sha256, bytes } = await validateLines('openai.jsonl', rows, { tokenize, previewRows: 2 });
    expect(result.errors).toEqual([]);
    expect(result).toMatchObject({ ok: true, format: 'openai', rows: 3, errorCount: 0, sha256, bytes });
    expect(result.stats.messages).toBe(9);
    const contents = rows.flatMap((r) => r.messages.map((m) => m.content));
    expect(result.stats.chars).toBe(contents.join('').length);
    const perRow = rows.map((r) => r.messages.reduce((n, m) => n + model.tokenize(m.content, false).length, 0));
    expect(result.stats.tokens).toEqual({
      total: perRow.reduce((a, b) => a + b, 0),
      mean: perRow.reduce((a, b) => a + b, 0) / 3,
      p50: [...perRow].sort((a, b) => a - b)[1],
      p95: Math.max(...perRow),
      max: Math.max(...perRow),
    });
    expect(result.preview).toEqual([rows[0].messages, rows[1].messages]);
  });

  test('Alpaca, with and without input, normalised to user and assistant messages', async () => {
    const { result } = await validateLines('alpaca.jsonl', [alpacaRow('Write a story.', 'Once upon a time.'), alpacaRow('Continue it:', 'They played.', 'Lily had a ball.'), '', alpacaRow('Name a cat.', 'Tom.', '')]);
    expect(result).toMatchObject({ ok: true, format: 'alpaca', rows: 3, errorCount: 0 });
    expect(result.stats.tokens).toBeUndefined();
    expect(result.preview[1]).toEqual([
      { role: 'user', content: 'Continue it:\n\nLily had a ball.' },
      { role: 'assistant', content: 'They played.' },
    ]);
    expect(result.preview[2][0]).toEqual({ role: 'user', content: 'Name a cat.' });
  });

  test('ShareGPT, with CRLF line ends', async () => {
    const file = path.join(dir, 'sharegpt.jsonl');
    fs.writeFileSync(file, [sharegptRow('Hi', 'Hello there.'), sharegptRow('A tale?', 'Once upon a time.')].map((r) => JSON.stringify(r)).join('\r\n'));
    const result = await validateDataset(fs.createReadStream(file), { tokenize });
    expect(result).toMatchObject({ ok: true, format: 'sharegpt', rows: 2, errorCount: 0 });
    expect(result.preview[0]).toEqual([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello there.' }]);
    expect(result.stats.tokens?.total).toBeGreaterThan(0);
  });
});

describe('broken files: each bad line with its number and reason', () => {
  test('wrong JSON, wrong types, missing roles, empty content, unknown roles', async () => {
    const { result } = await validateLines('broken.jsonl', [
      openaiRow('Q', 'A'),
      '{"messages": [',
      { messages: [{ content: 'no role' }, { role: 'assistant', content: 'A' }] },
      { messages: [{ role: 'user', content: '   ' }, { role: 'assistant', content: 'A' }] },
      { messages: [{ role: 'wizard', content: 'Q' }, { role: 'assistant', content: 'A' }] },
      { messages: 'hello' },
      { messages: [{ role: 'user', content: 42 }, { role: 'assistant', content: 'A' }] },
      { messages: [{ role: 'user', content: 'Q' }] },
      '[1, 2]',
      { text: 'plain' },
      openaiRow('Q2', 'A2'),
    ]);
    expect(result.ok).toBe(false);
    expect(result.rows).toBe(2);
    expect(result.errorCount).toBe(9);
    expect(result.errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const reasons = result.errors.map((e) => e.reason);
    expect(reasons[0]).toMatch(/^invalid JSON/);
    expect(reasons[1]).toBe('messages[0] has no "role"');
    expect(reasons[2]).toBe('messages[0].content is empty');
    expect(reasons[3]).toBe('messages[0].role "wizard" is not a known role');
    expect(reasons[4]).toBe('"messages" must be an array, got a string');
    expect(reasons[5]).toBe('messages[0].content must be a string, got a number');
    expect(reasons[6]).toBe('"messages" has no assistant turn');
    expect(reasons[7]).toBe('expected a JSON object, got an array');
    expect(reasons[8]).toMatch(/^not a dataset row/);
  });

  test('mixed formats name the line and where the format was set', async () => {
    const { result } = await validateLines('mixed.jsonl', [
      { instruction: 'broken', output: '' },
      alpacaRow('Write.', 'Done.'),
      sharegptRow('Q', 'A'),
      alpacaRow('Again.', 'Done.'),
      openaiRow('Q', 'A'),
    ]);
    expect(result.format).toBe('alpaca');
    expect(result.rows).toBe(2);
    expect(result.errors).toEqual([
      { line: 1, reason: '"output" is empty' },
      { line: 3, reason: 'mixed formats: this line is sharegpt but the file is alpaca (from line 2)' },
      { line: 5, reason: 'mixed formats: this line is openai but the file is alpaca (from line 2)' },
    ]);
  });

  test('Alpaca and ShareGPT field errors', async () => {
    const alpaca = await validateLines('alpaca-bad.jsonl', [{ output: 'x' }, { instruction: 'x', output: 3 }, { instruction: 'x', input: ['a'], output: 'y' }]);
    expect(alpaca.result.errors).toEqual([
      { line: 1, reason: 'missing "instruction"' },
      { line: 2, reason: '"output" must be a string, got a number' },
      { line: 3, reason: '"input" must be a string, got an array' },
    ]);
    const sharegpt = await validateLines('sharegpt-bad.jsonl', [{ conversations: [] }, { conversations: [{ from: 'human' }] }, { conversations: [{ from: 'human', value: 'Q' }] }]);
    expect(sharegpt.result.errors).toEqual([
      { line: 1, reason: '"conversations" is empty' },
      { line: 2, reason: 'conversations[0] has no "value"' },
      { line: 3, reason: '"conversations" has no gpt turn' },
    ]);
    expect(sharegpt.result.format).toBeNull();
  });

  test('overlong lines and invalid UTF-8 are errors, and reading carries on after them', async () => {
    const file = path.join(dir, 'bytes.jsonl');
    const good = JSON.stringify(openaiRow('Q', 'A'));
    const long = JSON.stringify(openaiRow('Q', 'x'.repeat(5000)));
    fs.writeFileSync(file, Buffer.concat([Buffer.from(`${good}\n${long}\n`), Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]), Buffer.from(`${good}\n`)]));
    const result = await validateDataset(fs.createReadStream(file, { highWaterMark: 100 }), { maxLineBytes: 1000 });
    expect(result.rows).toBe(2);
    expect(result.errors).toEqual([
      { line: 2, reason: 'the line is longer than 1000 bytes' },
      { line: 3, reason: 'the line is not valid UTF-8' },
    ]);
  });

  test('reports stop at the limit but every bad line is counted', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? openaiRow('Q', 'A') : 'not json'));
    const { result } = await validateLines('many.jsonl', lines, { maxErrors: 5 });
    expect(result.errorCount).toBe(20);
    expect(result.errors.map((e) => e.line)).toEqual([2, 3, 5, 6, 8]);
    expect(result.rows).toBe(10);
  });

  test('an empty file is refused as a whole', async () => {
    const file = path.join(dir, 'empty.jsonl');
    fs.writeFileSync(file, '\n\n');
    const result = await validateDataset(fs.createReadStream(file));
    expect(result).toMatchObject({ ok: false, rows: 0, errorCount: 0, reason: 'the file has no rows', format: null });
  });
});
