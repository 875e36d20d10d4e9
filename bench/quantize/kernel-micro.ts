import { f32BitsToF16, quantizeQ8_0 } from '../../server/lifecycle/quantize/kernels';
import { fillWeights } from './synthetic';

const QK8_0 = 32, Q8_0_BLOCK_BYTES = 34;
const scratch = new Uint32Array(1);
const scratchF = new Float32Array(scratch.buffer);

/** The kernel as it was before its rewrite (float max, abs-and-sign rounding, one int8 store per value), for comparison. */
function previousQ8_0(src: Float32Array, dst: Uint8Array, n: number): void {
  const q = new Int8Array(dst.buffer, dst.byteOffset, dst.length);
  const scales = new Uint16Array(dst.buffer, dst.byteOffset, dst.length >>> 1);
  const bits = new Int32Array(src.buffer, src.byteOffset, src.length);
  for (let b = 0, i = 0; i < n; b++, i += QK8_0) {
    let amax = 0;
    for (let j = i, end = i + QK8_0; j < end; j++) {
      const a = Math.abs(src[j]!);
      amax = a > amax ? a : amax;
    }
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    scratchF[0] = d;
    scales[b * (Q8_0_BLOCK_BYTES >>> 1)] = f32BitsToF16(scratch[0]!);
    let at = b * Q8_0_BLOCK_BYTES + 2;
    for (let j = i, end = i + QK8_0; j < end; j++, at++) {
      const r = (Math.abs(Math.fround(src[j]! * id)) + 0.5) | 0;
      const sign = bits[j]! >> 31;
      q[at] = (r ^ sign) - sign;
    }
  }
}

/**
 * `npx tsx bench/quantize/kernel-micro.ts` (MB=, ROUNDS=, ONLY=kernel,previous): kernel-only Q8_0 speed over 4 MiB
 * chunks of weight-like floats in reused buffers, next to the previous kernel. They are interleaved
 * round by round and timed by this thread's CPU time as well as wall time, since the machine is shared.
 */
const N = 1 << 20;
const TOTAL = Number(process.env.MB ?? 128) << 20;
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const srcs = [1, 2, 3, 4].map((seed) => { const a = new Float32Array(N); fillWeights(a, seed); return a; });
const dst = new Uint8Array((N / 32) * 34);
const expected = new Uint8Array(dst.length);
const fns: Record<string, (s: Float32Array, d: Uint8Array, n: number) => void> = { kernel: quantizeQ8_0, previous: previousQ8_0 };
const names = (process.env.ONLY ?? Object.keys(fns).join(',')).split(',');
const cpu: Record<string, number[]> = {}, wall: Record<string, number[]> = {};
for (const name of names) {
  const f = fns[name]!;
  for (const s of srcs) { previousQ8_0(s, expected, N); f(s, dst, N); if (Buffer.compare(dst, expected) !== 0) throw new Error(`${name}: bytes differ from the previous kernel's`); }
  for (let k = 0; k < 64; k++) f(srcs[k & 3]!, dst, N); // warm up
  cpu[name] = []; wall[name] = [];
}
for (let round = 0; round < ROUNDS; round++) {
  for (const name of names) {
    const f = fns[name]!;
    const c0 = process.cpuUsage(), w0 = performance.now();
    for (let done = 0, k = 0; done < TOTAL; done += N * 4, k++) f(srcs[k & 3]!, dst, N);
    const c = process.cpuUsage(c0);
    wall[name]!.push(TOTAL / ((performance.now() - w0) / 1000) / 1e9);
    cpu[name]!.push(TOTAL / ((c.user + c.system) / 1e6) / 1e9);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
for (const name of names) console.log(`${name.padEnd(8)} cpu median ${med(cpu[name]!).toFixed(3)} max ${Math.max(...cpu[name]!).toFixed(3)}  wall median ${med(wall[name]!).toFixed(3)} max ${Math.max(...wall[name]!).toFixed(3)} GB/s`);
