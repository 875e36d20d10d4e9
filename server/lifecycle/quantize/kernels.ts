/** The conversion kernels: plain loops over typed arrays, nothing allocated per value. */
import { QK8_0 } from '../../gguf/format';

/** IEEE binary32 bits to binary16 bits, rounding to nearest even (as ggml's GGML_FP32_TO_FP16 does). */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // NaN stays a (quiet) NaN
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa moves into the exponent, which is the right answer (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** binary16 bits to a number, exactly. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** All 65536 halves as floats: F16 input is widened by lookup, far cheaper than decoding bits per value. */
export const F16_TABLE = (() => {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) table[h] = f16BitsToF32(h);
  return table;
})();

/**
 * `n` floats (given as their bits) to halves. Weights are almost all in the range of normal halves, where
 * rounding to nearest even is one add on the bits (a carry into the exponent is still right); the rest
 * (subnormals, overflow, NaN) takes the general path.
 */
export function f32ToF16(src: Uint32Array, dst: Uint16Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    const m = x & 0x7fffffff;
    // [2^-14, 65520): results from the smallest normal half to 65504, the largest finite one.
    if (m >= 0x38800000 && m < 0x477ff000) dst[i] = ((x >>> 16) & 0x8000) | (((m + 0x0fff + ((m >>> 13) & 1)) >>> 13) - 0x1c000);
    else dst[i] = f32BitsToF16(x);
  }
}

export function f16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = F16_TABLE[src[i]!]!;
}

const scratch = new Uint32Array(1);
const scratchF = new Float32Array(scratch.buffer);

/** max |x| of the block at `i` as float bits, NaNs skipped (a block with one is rare: this is its slow path). */
function amaxBitsSkippingNaN(bits: Int32Array, i: number): number {
  let m = 0;
  for (let j = i; j < i + QK8_0; j++) {
    const a = bits[j]! & 0x7fffffff;
    if (a <= 0x7f800000 && a > m) m = a;
  }
  return m;
}

/**
 * ggml's quantize_row_q8_0_ref: per block of 32, d = max|x| / 127 in float32, q = x * (1/d) rounded half
 * away from zero, d stored as fp16. `n` must be a multiple of 32; `dst` holds n/32 × 34 bytes.
 *
 * Written for what TurboFan (V8 11) makes of it; each choice was measured kernel-only against the previous
 * kernel (commit a469581 holds that micro-benchmark) and kept only where it helped:
 * - Views made here, not the parameters: V8 then knows their maps and checks none per element.
 * - max|x| on the float bits as int32 (x & 0x7fffffff orders like |x| for non-NaN values), with a branchless
 *   max (m − ((m − a) & ((m − a) >> 31)); no overflow, both are in [0, 2^31)) in four accumulators so the
 *   chains overlap. A compare-and-select compiles to a branch that mispredicts on weights. NaN's bits sort
 *   above infinity's, so a block holding one takes a slow path that skips it, as comparing floats does.
 * - Rounding half away from zero from t = trunc(2v), v = fround(x·id) (2v is exact): q = trunc((t ± 1) / 2),
 *   ± as t's sign (0 counts as +). Pure int32 arithmetic, and no second load for x's sign bit.
 * - Two values per uint16 store: a block is 34 bytes, so its 32 values always start at an even offset.
 * Out-of-range values (only blocks with infinities or subnormal scales) wrap exactly as an Int8Array store.
 */
export function quantizeQ8_0(src: Float32Array, dst: Uint8Array, n: number): void {
  const out = new Uint16Array(dst.buffer, dst.byteOffset, dst.length >>> 1);
  const f = new Float32Array(src.buffer, src.byteOffset, n);
  const bits = new Int32Array(src.buffer, src.byteOffset, n);
  for (let i = 0, at = 0; i < n; i += QK8_0) {
    let m0 = 0, m1 = 0, m2 = 0, m3 = 0;
    for (let j = i, end = i + QK8_0; j < end; j += 4) {
      const d0 = m0 - (bits[j]! & 0x7fffffff);
      m0 -= d0 & (d0 >> 31);
      const d1 = m1 - (bits[j + 1]! & 0x7fffffff);
      m1 -= d1 & (d1 >> 31);
      const d2 = m2 - (bits[j + 2]! & 0x7fffffff);
      m2 -= d2 & (d2 >> 31);
      const d3 = m3 - (bits[j + 3]! & 0x7fffffff);
      m3 -= d3 & (d3 >> 31);
    }
    let dm = m0 - m1;
    m0 -= dm & (dm >> 31);
    dm = m2 - m3;
    m2 -= dm & (dm >> 31);
    dm = m0 - m2;
    m0 -= dm & (dm >> 31);
    scratch[0] = m0 > 0x7f800000 ? amaxBitsSkippingNaN(bits, i) : m0;
    const d = Math.fround(scratchF[0]! / 127);
    const id = d ? Math.fround(1 / d) : 0;
    scratchF[0] = d;
    out[at++] = f32BitsToF16(scratch[0]!);
    for (let j = i, end = i + QK8_0; j < end; j += 4, at += 2) {
      const t0 = (Math.fround(f[j]! * id) * 2) | 0;
      const t1 = (Math.fround(f[j + 1]! * id) * 2) | 0;
      const t2 = (Math.fround(f[j + 2]! * id) * 2) | 0;
      const t3 = (Math.fround(f[j + 3]! * id) * 2) | 0;
      const x0 = t0 + ((t0 >> 31) | 1);
      const x1 = t1 + ((t1 >> 31) | 1);
      const x2 = t2 + ((t2 >> 31) | 1);
      const x3 = t3 + ((t3 >> 31) | 1);
      out[at] = (((x0 + (x0 >>> 31)) >> 1) & 0xff) | (((x1 + (x1 >>> 31)) >> 1) << 8);
      out[at + 1] = (((x2 + (x2 >>> 31)) >> 1) & 0xff) | (((x3 + (x3 >>> 31)) >> 1) << 8);
    }
  }
}
