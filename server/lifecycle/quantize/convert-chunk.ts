import { GGML_F16, GGML_F32, Q8_0_BLOCK_BYTES, QK8_0 } from '../../gguf/format';
import { f16ToF32, f32ToF16, quantizeQ8_0 } from './kernels';

/** What a chunk of a tensor becomes: F32 → F16, or F32/F16 → Q8_0. */
export const Op = { F32_TO_F16: 1, F32_TO_Q8_0: 2, F16_TO_Q8_0: 3 } as const;
export type OpCode = (typeof Op)[keyof typeof Op];

export function opFor(inType: number, outType: number): OpCode {
  if (outType === GGML_F16) return Op.F32_TO_F16;
  return inType === GGML_F32 ? Op.F32_TO_Q8_0 : Op.F16_TO_Q8_0;
}
export const inputSize = (op: OpCode) => (op === Op.F16_TO_Q8_0 ? 2 : 4);

/** Buffers one converter reuses for every chunk; SharedArrayBuffers when a worker thread shares them. */
export type ChunkBuffers = { input: ArrayBufferLike; output: ArrayBufferLike; widened: Float32Array };
export function chunkBuffers(chunk: number, shared: boolean): ChunkBuffers {
  const make = (bytes: number) => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  return { input: make(chunk * 4), output: make(chunk * 4), widened: new Float32Array(make(chunk * 4)) };
}

/** Converts `n` values (a multiple of 32 for Q8_0) from `input` into `output`; returns the bytes written. */
export function convertChunk(op: OpCode, n: number, b: ChunkBuffers): number {
  if (op === Op.F32_TO_F16) {
    f32ToF16(new Uint32Array(b.input, 0, n), new Uint16Array(b.output, 0, n), n);
    return n * 2;
  }
  let floats = new Float32Array(b.input, 0, n);
  if (op === Op.F16_TO_Q8_0) {
    f16ToF32(new Uint16Array(b.input, 0, n), b.widened, n);
    floats = b.widened.subarray(0, n);
  }
  const bytes = (n / QK8_0) * Q8_0_BLOCK_BYTES;
  quantizeQ8_0(floats, new Uint8Array(b.output, 0, bytes), n);
  return bytes;
}
