import fs from 'node:fs';
import { GGML_F32, ValueType } from '../../server/gguf/format';
import type { GgufEntry } from '../../server/gguf/reader';
import { encodeHeader } from '../../server/gguf/writer';

/** Floats shaped like weights (roughly normal, σ≈0.02, a few outliers), from a seeded generator so runs compare. */
function fillWeights(dst: Float32Array, seed: number) {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < dst.length; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5; // xorshift32
    const u = (s >>> 0) / 4294967296;
    const v = (u + ((s >>> 7) & 0xffff) / 65536 + ((s >>> 3) & 0xff) / 256 - 1.5) * 0.04; // sum of three uniforms
    dst[i] = i % 4099 === 0 ? v * 40 : v;
  }
}

/**
 * Writes an F32 GGUF of `tensors` rows×cols matrices plus tokenizer-like metadata, in 4 MiB chunks (so the
 * benchmark's own peak memory stays what the quantizer would see). Returns the bytes of F32 tensor data.
 */
export function writeSyntheticGguf(file: string, tensors: number, rows: number, cols: number): number {
  const vocab = Array.from({ length: 32000 }, (_, i) => `tok${i}`);
  const metadata: GgufEntry[] = [
    { key: 'general.architecture', type: ValueType.STRING, value: 'llama' },
    { key: 'general.name', type: ValueType.STRING, value: 'enclave-bench-synthetic' },
    { key: 'llama.embedding_length', type: ValueType.UINT32, value: cols },
    { key: 'tokenizer.ggml.tokens', type: ValueType.ARRAY, value: { itemType: ValueType.STRING, items: vocab } },
    { key: 'tokenizer.ggml.scores', type: ValueType.ARRAY, value: { itemType: ValueType.FLOAT32, items: vocab.map((_, i) => -i) } },
  ];
  const infos = Array.from({ length: tensors }, (_, i) => ({ name: `blk.${i}.ffn_up.weight`, ne: [cols, rows], type: GGML_F32, bytes: rows * cols * 4 }));
  const { header, offsets } = encodeHeader(metadata, infos, 32);
  const chunk = new Float32Array(1 << 20);
  const bytes = new Uint8Array(chunk.buffer);
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, header, 0, header.length, 0);
    let seed = 1;
    for (const [i, t] of infos.entries()) {
      for (let done = 0; done < t.bytes; done += bytes.length) {
        fillWeights(chunk, seed++);
        const n = Math.min(bytes.length, t.bytes - done);
        fs.writeSync(fd, bytes, 0, n, header.length + offsets[i]! + done);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return infos.reduce((a, t) => a + t.bytes, 0);
}
