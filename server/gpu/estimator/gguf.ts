import { GgufError } from '../../gguf/format';
import { readGgufMetadata, type GgufValue } from '../../gguf/reader';
import { EstimatorInputError } from './fields';
import type { ModelShape } from './shape';

/** A GGUF file as the estimator sees it: its header metadata and its size (the weights, as stored). */
export interface GgufModel {
  format: 'gguf';
  fileBytes: number;
  metadata: Record<string, string | number | bigint | boolean | null | (string | number)[]>;
}

// Arrays longer than this (the tokenizer's vocabulary, merges, scores) are skipped: only their length is kept.
const MAX_KEPT_ARRAY = 64;

const plain = (v: GgufValue): string | number | bigint | boolean =>
  typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : (v as string | number | bigint | boolean);

/**
 * Reads the key/value metadata at the head of a GGUF file (not its tensors), through the GGUF reader the
 * quantizer uses, flattened for the shape lookups below: `key.length` stands for a skipped long array.
 */
export function readGgufModel(file: string): GgufModel {
  let read: ReturnType<typeof readGgufMetadata>;
  try {
    read = readGgufMetadata(file, MAX_KEPT_ARRAY);
  } catch (e) {
    throw e instanceof GgufError ? new EstimatorInputError(e.message) : e;
  }
  const metadata: GgufModel['metadata'] = {};
  for (const { key, value } of read.metadata) {
    if (typeof value !== 'object') metadata[key] = plain(value);
    else if (value.skippedLength !== undefined || value.items.some((i) => typeof i === 'object')) metadata[`${key}.length`] = value.skippedLength ?? value.items.length;
    else metadata[key] = value.items.map((i) => (typeof i === 'string' || typeof i === 'number' ? i : Number(i)));
  }
  return { format: 'gguf', fileBytes: read.fileBytes, metadata };
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
    // The file's size is the weights, so only what the KV cache and activations need is read here.
    moe: null,
    mla: null,
    normsPerLayer: 2,
    qkNorm: false,
    layerAttention: Array(int('block_count')).fill('full'),
    slidingWindow: null,
    vision: null,
    textPrefix: 'model.',
    // llama.cpp computes in float16/float32 on GPU; the KV cache defaults to f16.
    torchDtype: 'float16',
    maxPositionEmbeddings: typeof m[`${arch}.context_length`] === 'number' ? (m[`${arch}.context_length`] as number) : null,
    quantization: null,
  };
}
