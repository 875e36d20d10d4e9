import { describe, expect, it } from 'vitest';
import { F16_TABLE, f32BitsToF16, f32ToF16, quantizeQ8_0 } from './kernels';

/** Q8_0 as plainly as it can be written (the kernel before its speed work): the fast kernel must match it byte for byte. */
function referenceQ8_0(src: Float32Array, n: number): Uint8Array {
  const dst = new Uint8Array((n / 32) * 34);
  const view = new DataView(dst.buffer);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let b = 0; b < n / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(src[b * 32 + j]!);
      if (a > amax) amax = a; // a NaN compares false: skipped
    }
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    f32[0] = d;
    view.setUint16(b * 34, f32BitsToF16(u32[0]!), true);
    for (let j = 0; j < 32; j++) {
      const v = Math.fround(src[b * 32 + j]! * id);
      const r = Math.trunc(Math.abs(v) + 0.5) | 0; // ±Infinity and NaN become 0, as in the kernel
      view.setInt8(b * 34 + 2 + j, (v < 0 || Object.is(v, -0) ? -r : r) << 24 >> 24);
    }
  }
  return dst;
}

/** One Q8_0 block of `values` (padded with zeros to 32): its fp16 scale bits and its 32 int8 values. */
function q8(values: number[]) {
  const src = new Float32Array(32);
  src.set(values);
  const dst = new Uint8Array(34);
  quantizeQ8_0(src, dst, 32);
  return { d: dst[0]! | (dst[1]! << 8), q: Array.from(new Int8Array(dst.buffer, 2, 32)) };
}
const F16_ONE = 0x3c00;

describe('Q8_0 blocks', () => {
  it('with max |x| = 127 the scale is 1, and halves round away from zero', () => {
    const { d, q } = q8([127, 0.5, -0.5, 1.5, -2.5, 2.5, 0.49, -0.49, 126.5, -127, 3]);
    expect(d).toBe(F16_ONE);
    expect(q.slice(0, 11)).toEqual([127, 1, -1, 2, -3, 3, 0, 0, 127, -127, 3]);
    expect(q.slice(11)).toEqual(new Array(21).fill(0));
  });

  it('an all-zero block has scale 0 and zeros', () => {
    expect(q8([])).toEqual({ d: 0, q: new Array(32).fill(0) });
  });

  it('the largest magnitude maps to ±127 and the scale is max/127 in fp16', () => {
    // max 2.54: d = 0.02 → fp16 0x251f (0.0200042...); 1.27 is half the max: 63.5 rounds away to 64.
    const { d, q } = q8([-2.54, 1.27, 0.02]);
    expect(d).toBe(f32BitsToF16(new Uint32Array(new Float32Array([2.54 / 127]).buffer)[0]!));
    expect(F16_TABLE[d]).toBeCloseTo(0.02, 4);
    expect(q.slice(0, 3)).toEqual([-127, 64, 1]);
  });

  it('blocks are independent: each has its own scale', () => {
    const src = new Float32Array(64);
    src[0] = 127;
    src[32] = 254;
    src[33] = 127;
    const dst = new Uint8Array(68);
    quantizeQ8_0(src, dst, 64);
    expect(dst[0]! | (dst[1]! << 8)).toBe(F16_ONE);
    expect(dst[34]! | (dst[35]! << 8)).toBe(0x4000); // 2.0
    expect([new Int8Array(dst.buffer)[2], new Int8Array(dst.buffer)[36], new Int8Array(dst.buffer)[37]]).toEqual([127, 127, 64]); // 63.5 → 64
  });
});

describe('Q8_0 against the plain reference', () => {
  const check = (src: Float32Array) => {
    const dst = new Uint8Array((src.length / 32) * 34);
    quantizeQ8_0(src, dst, src.length);
    expect(Buffer.from(dst).equals(Buffer.from(referenceQ8_0(src, src.length)))).toBe(true);
  };

  it('matches on weight-like values, including many exact halves', () => {
    let s = 12345;
    const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const src = new Float32Array(32 * 4096);
    for (let i = 0; i < src.length; i++) src[i] = (rand() + rand() + rand() - 1.5) * 0.04 * (i % 997 === 0 ? 40 : 1);
    check(src);
    // Blocks of small integers and halves over a max of 127: every rounding tie, both signs.
    for (let i = 0; i < src.length; i++) src[i] = i % 32 === 0 ? (i & 64 ? -127 : 127) : Math.round((rand() - 0.5) * 254) / 2;
    check(src);
  });

  it('matches on edge cases: zeros, -0, subnormals, huge values, infinities, NaN anywhere in a block', () => {
    const cases: number[][] = [
      [0, -0, 0, -0],
      [-0, 1e-45, -1e-45, 3e-45],
      [1e-40, -2e-40, 5e-39, -1.1754942e-38],
      [1.2e-38, -1.17e-38, 3e-39],
      [3.4e38, -3.4e38, 1e38, -1],
      [Infinity, 1, -2, 0.5],
      [-Infinity, 3],
      [NaN, 1, -0.5, 0.25],
      [1, -1.5, NaN, 127, -63.5, NaN],
      [NaN, NaN, NaN],
      [NaN, Infinity, -7],
      [65504 * 127, -1, 2],
      [1e-3, -2.5e-3, 7e-4],
    ];
    const src = new Float32Array(32 * cases.length);
    cases.forEach((c, b) => c.forEach((v, j) => (src[b * 32 + ((j * 7) % 32)] = v)));
    check(src);
    // The same values at the other positions of the block (the kernel works four at a time).
    const shifted = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) shifted[i] = src[(i & ~31) | ((i + 1) & 31)]!;
    check(shifted);
  });

  it('works on a view that does not start at its buffer (as chunk buffers are)', () => {
    const backing = new Float32Array(32 * 3 + 8);
    for (let i = 0; i < backing.length; i++) backing[i] = Math.sin(i) * (i % 5);
    const src = backing.subarray(8, 8 + 64);
    const out = new Uint8Array(2 + 68).subarray(2);
    quantizeQ8_0(src, out, 64);
    expect(Buffer.from(out).equals(Buffer.from(referenceQ8_0(src, 64)))).toBe(true);
  });
});

describe('F32 to F16', () => {
  it('is exact for every representable half (all 63,488 finite values and both infinities)', () => {
    const halves: number[] = [];
    for (let h = 0; h < 65536; h++) if (((h >>> 10) & 0x1f) !== 0x1f || (h & 0x3ff) === 0) halves.push(h);
    const floats = new Float32Array(halves.map((h) => F16_TABLE[h]!));
    const out = new Uint16Array(floats.length);
    f32ToF16(new Uint32Array(floats.buffer), out, floats.length);
    expect(Array.from(out)).toEqual(halves);
  });

  const bits = (x: number) => f32BitsToF16(new Uint32Array(new Float32Array([x]).buffer)[0]!);
  it('rounds to nearest even, overflows to infinity, underflows to zero, keeps NaN', () => {
    expect(bits(1 + 2 ** -11)).toBe(0x3c00); // halfway, even stays
    expect(bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway, odd rounds up
    expect(bits(65520)).toBe(0x7c00); // halfway past the largest half
    expect(bits(65519)).toBe(0x7bff);
    expect(bits(2 ** -25)).toBe(0); // half the smallest subnormal: ties to even (zero)
    expect(bits(1.5 * 2 ** -25)).toBe(1);
    expect(bits(-0)).toBe(0x8000);
    expect(Number.isNaN(F16_TABLE[bits(NaN)]!)).toBe(true);
  });
});
