import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';
import { perplexityOfFile } from './perplexity';
import { quantizeGguf } from './quantize';

// Held-out text in the TinyStories style (written for this test, not taken from the training set).
const HELD_OUT = [
  'Once upon a time, there was a small dog named Max. Max liked to run in the green grass near his house.',
  'One day, Max found a shiny stone by the river. He picked it up and took it to his friend Sue.',
  'Sue smiled and said, "Thank you, Max! This stone is very pretty." They played with the stone all day.',
  'When the sun went down, Max and Sue were tired. They said goodbye and went home to sleep.',
].join(' ');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-quantize-quality-'));
  fs.writeFileSync(path.join(dir, 'held-out.txt'), HELD_OUT);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('quantizing stories260K moves perplexity on held-out text by less than 5% (Q8_0) and 1% (F16)', async () => {
  const text = path.join(dir, 'held-out.txt');
  const ppl = async (modelPath: string) => (await perplexityOfFile({ modelPath, textPath: text, contextSize: 1024, threads: 1 })).perplexity;
  const base = await ppl(TEST_MODEL_PATH);
  const deltas: Record<string, number> = {};
  for (const type of ['q8_0', 'f16'] as const) {
    const file = path.join(dir, `${type}.gguf`);
    await quantizeGguf(TEST_MODEL_PATH, file, type);
    deltas[type] = (await ppl(file)) / base - 1;
  }
  expect(Number.isFinite(base) && base > 1).toBe(true);
  expect(Math.abs(deltas.q8_0!)).toBeLessThan(0.05);
  expect(Math.abs(deltas.f16!)).toBeLessThan(0.01);
  console.log(`perplexity ${base.toFixed(3)}; Q8_0 ${(deltas.q8_0! * 100).toFixed(3)}%, F16 ${(deltas.f16! * 100).toFixed(3)}%`);
}, 60_000);
