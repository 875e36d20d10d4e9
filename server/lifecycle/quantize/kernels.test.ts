import { describe, expect, it } from 'vitest';
import { F16_TABLE, f32BitsToF16, f32ToF16, quantizeQ8_0 } from './kernels';

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
