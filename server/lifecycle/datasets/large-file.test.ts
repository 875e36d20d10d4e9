import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { validateDataset } from './validate';

const TARGET_BYTES = 100 * 1024 * 1024;
let dir: string;
let file: string;
let rows = 0;
const badLines: number[] = [];

/** Writes ~100 MB of OpenAI rows through a stream (never whole in memory), with a bad line every 100,000th. */
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-dataset-large-'));
  file = path.join(dir, 'large.jsonl');
  const out = fs.createWriteStream(file);
  let written = 0;
  let line = 0;
  while (written < TARGET_BYTES) {
    line++;
    let text: string;
    if (line % 100_000 === 0) {
      text = '{"messages": [{"role": "user", "content": ""}]}\n';
      badLines.push(line);
    } else {
      text = JSON.stringify({
        messages: [
          { role: 'user', content: `Tell me story number ${line} about a cat and a dog.` },
          { role: 'assistant', content: `Once upon a time, in story ${line}, a cat and a dog played in the sun all day long. They were happy.` },
        ],
      }) + '\n';
      rows++;
    }
    written += Buffer.byteLength(text);
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error) => (e ? reject(e) : resolve())));
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a 100 MB file is validated in bounded memory, with exact line numbers deep inside it', async () => {
  expect(fs.statSync(file).size).toBeGreaterThanOrEqual(TARGET_BYTES);
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const result = await validateDataset(fs.createReadStream(file));
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(result.format).toBe('openai');
    expect(result.rows).toBe(rows);
    expect(result.errors.map((e) => e.line)).toEqual(badLines);
    expect(result.errors[0].reason).toBe('messages[0].content is empty');
    expect(result.bytes).toBe(fs.statSync(file).size);
    expect(result.stats.messages).toBe(rows * 2);
  } finally {
    clearInterval(sampler);
  }
  expect(peak - before).toBeLessThan(100 * 1024 * 1024);
}, 180_000);
