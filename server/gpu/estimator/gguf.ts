import fs from 'node:fs';
import { EstimatorInputError, type ModelShape } from './shape';

/** A GGUF file as the estimator sees it: its header metadata and its size (the weights, as stored). */
export interface GgufModel {
  format: 'gguf';
  fileBytes: number;
  metadata: Record<string, string | number | bigint | boolean | null | (string | number)[]>;
}

// GGUF value types (ggml's gguf.h).
const UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12;
const FIXED_SIZE: Record<number, number> = { [UINT8]: 1, [INT8]: 1, [UINT16]: 2, [INT16]: 2, [UINT32]: 4, [INT32]: 4, [FLOAT32]: 4, [BOOL]: 1, [UINT64]: 8, [INT64]: 8, [FLOAT64]: 8 };
// Arrays longer than this (the tokenizer's vocabulary, merges, scores) are skipped: only their length is kept.
const MAX_KEPT_ARRAY = 64;

/** Reads a file front to back through a window, so a header with a large tokenizer needs no whole-file read. */
class Cursor {
  private buffer = Buffer.alloc(0);
  private start = 0; // file offset of buffer[0]
  position = 0;
  constructor(private fd: number, private size: number, private file: string) {}

  private need(n: number): Buffer {
    if (this.position + n > this.size) throw new EstimatorInputError(`${this.file}: GGUF header is truncated`);
    if (this.position < this.start || this.position + n > this.start + this.buffer.length) {
      this.buffer = Buffer.alloc(Math.max(n, 1 << 20));
      const read = fs.readSync(this.fd, this.buffer, 0, this.buffer.length, this.position);
      this.buffer = this.buffer.subarray(0, read);
      this.start = this.position;
    }
    const at = this.position - this.start;
    this.position += n;
    return this.buffer.subarray(at, at + n);
  }
  u32() { return this.need(4).readUInt32LE(0); }
  u64() {
    const v = this.need(8).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new EstimatorInputError(`${this.file}: GGUF length out of range`);
    return Number(v);
  }
  string() { return this.need(this.u64()).toString('utf8'); }
  skip(n: number) { this.need(0); this.position += n; if (this.position > this.size) throw new EstimatorInputError(`${this.file}: GGUF header is truncated`); }
  scalar(type: number): string | number | bigint | boolean {
    switch (type) {
      case UINT8: return this.need(1).readUInt8(0);
      case INT8: return this.need(1).readInt8(0);
      case UINT16: return this.need(2).readUInt16LE(0);
      case INT16: return this.need(2).readInt16LE(0);
      case UINT32: return this.u32();
      case INT32: return this.need(4).readInt32LE(0);
      case FLOAT32: return this.need(4).readFloatLE(0);
      case BOOL: return this.need(1).readUInt8(0) !== 0;
      case STRING: return this.string();
      case UINT64: return this.need(8).readBigUInt64LE(0);
      case INT64: return this.need(8).readBigInt64LE(0);
      case FLOAT64: return this.need(8).readDoubleLE(0);
      default: throw new EstimatorInputError(`${this.file}: unknown GGUF value type ${type}`);
    }
  }
}

/** Reads the key/value metadata at the head of a GGUF file (not its tensors). */
export function readGgufModel(file: string): GgufModel {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const c = new Cursor(fd, size, file);
    const magic = size >= 4 ? c.u32() : 0;
    if (magic !== 0x46554747) throw new EstimatorInputError(`${file} is not a GGUF file (no GGUF magic)`);
    const version = c.u32();
    if (version < 2) throw new EstimatorInputError(`${file}: GGUF version ${version} is not supported (2 or later)`);
    c.u64(); // tensor count
    const count = c.u64();
    const metadata: GgufModel['metadata'] = {};
    for (let i = 0; i < count; i++) {
      const key = c.string();
      const type = c.u32();
      if (type !== ARRAY) {
        const value = c.scalar(type);
        metadata[key] = typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
        continue;
      }
      const itemType = c.u32();
      const length = c.u64();
      if (length <= MAX_KEPT_ARRAY && itemType !== ARRAY) {
        metadata[key] = Array.from({ length }, () => {
          const v = c.scalar(itemType);
          return typeof v === 'string' || typeof v === 'number' ? v : Number(v);
        });
      } else {
        metadata[`${key}.length`] = length;
        if (itemType === STRING) for (let j = 0; j < length; j++) c.skip(c.u64());
        else if (FIXED_SIZE[itemType]) c.skip(length * FIXED_SIZE[itemType]!);
        else throw new EstimatorInputError(`${file}: nested GGUF arrays under ${key} are not supported`);
      }
    }
    return { format: 'gguf', fileBytes: size, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

export function isGgufModel(model: unknown): model is GgufModel {
  return typeof model === 'object' && model !== null && (model as GgufModel).format === 'gguf';
}

/** The same shape a config.json gives, from GGUF keys (`llama.block_count`, `llama.embedding_length`...). */
export function shapeFromGguf(model: GgufModel): ModelShape {
  const m = model.metadata;
  const arch = typeof m['general.architecture'] === 'string' ? m['general.architecture'] : 'llama';
  const int = (key: string, fallback?: number): number => {
    const value = m[`${arch}.${key}`] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new EstimatorInputError(`GGUF metadata: ${arch}.${key} is missing or not a positive integer`);
    return value;
  };
  const hiddenSize = int('embedding_length');
  const attentionHeads = int('attention.head_count');
  const tokens = m['tokenizer.ggml.tokens.length'];
  return {
    architecture: arch,
    layers: int('block_count'),
    hiddenSize,
    intermediateSize: int('feed_forward_length'),
    attentionHeads,
    kvHeads: int('attention.head_count_kv', attentionHeads),
    headDim: int('attention.key_length', hiddenSize / attentionHeads),
    vocabSize: int('vocab_size', typeof tokens === 'number' ? tokens : undefined),
    tiedEmbeddings: false,
    qkvBias: false,
    experts: typeof m[`${arch}.expert_count`] === 'number' && (m[`${arch}.expert_count`] as number) > 0 ? (m[`${arch}.expert_count`] as number) : 1,
    // llama.cpp computes in float16/float32 on GPU; the KV cache defaults to f16.
    torchDtype: 'float16',
    maxPositionEmbeddings: typeof m[`${arch}.context_length`] === 'number' ? (m[`${arch}.context_length`] as number) : null,
    quantization: null,
  };
}
