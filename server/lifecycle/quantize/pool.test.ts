import { expect, it } from 'vitest';
import { Op } from './convert-chunk';
import { quantizeQ8_0 } from './kernels';
import { ConvertPool } from './pool';

const CHUNK = 1024;

async function convertFour(options: { offThread?: boolean }) {
  const writes: { position: number; bytes: Uint8Array }[] = [];
  const pool = new ConvertPool(2, CHUNK, (buffer, length, position) => void writes.push({ position, bytes: new Uint8Array(buffer, 0, length).slice() }), options);
  const chunks = [0, 1, 2, 3].map((c) => Float32Array.from({ length: CHUNK }, (_, i) => Math.sin(c * CHUNK + i) * (c + 1)));
  try {
    for (const [c, values] of chunks.entries()) await pool.convert(Op.F32_TO_Q8_0, CHUNK, c * 1088, (input) => new Float32Array(input).set(values));
    await pool.drain();
  } finally {
    await pool.close();
  }
  expect(writes.map((w) => w.position).sort((a, b) => a - b)).toEqual([0, 1088, 2176, 3264]);
  for (const [c, values] of chunks.entries()) {
    const expected = new Uint8Array(1088);
    quantizeQ8_0(values, expected, CHUNK);
    expect(Buffer.from(writes.find((w) => w.position === c * 1088)!.bytes).equals(Buffer.from(expected))).toBe(true);
  }
}

it('the calling thread and a worker take turns, and every chunk lands at its position', () => convertFour({}));

it('off the calling thread, two workers take turns, and every chunk lands at its position', () => convertFour({ offThread: true }));

it('a chunk that fails in a worker is an error saying why, not a hang', async () => {
  const pool = new ConvertPool(2, CHUNK, () => {});
  try {
    await pool.convert(Op.F32_TO_Q8_0, 32, 0, () => {}); // the calling thread's turn
    await pool.convert(Op.F32_TO_Q8_0, CHUNK * 2, 0, () => {}); // more values than the worker's buffer holds
    await expect(pool.drain()).rejects.toThrow(/converter thread failed: .*(bounds|length)/i);
  } finally {
    await pool.close();
  }
});
