import { z } from 'zod';
import {
  ACTIVATION_FACTOR,
  COLLECTIVES_OVERHEAD_BYTES,
  CUDA_GRAPH_BYTES,
  DEFAULT_MAX_NUM_BATCHED_TOKENS,
  DEFAULT_MAX_NUM_SEQS,
  DTYPE_BYTES,
  GiB,
  MIN_MAX_NUM_BATCHED_TOKENS,
  NON_TORCH_OVERHEAD_BYTES,
} from './constants';
import { EstimatorInputError } from './fields';
import { isGgufModel, shapeFromGguf, type GgufModel } from './gguf';
import { kvCache } from './kv-cache';
import { effectiveQuantization } from './quantization';
import { shapeFromHfConfig } from './read-config';
import type { ModelShape } from './shape';
import { busiestStage, paddedVocab, parameterCount } from './weights';

export const estimateSpecSchema = z.object({
  tp: z.number().int().positive().default(1),
  pp: z.number().int().positive().default(1),
  dtype: z.enum(['auto', 'float16', 'bfloat16', 'float32', 'half']).default('auto'),
  quantization: z.string().trim().toLowerCase().nullable().default(null),
  /** Defaults to the model's max_position_embeddings, as vLLM does. */
  maxModelLen: z.number().int().positive().optional(),
  gpuMemoryUtilization: z.number().gt(0).max(1).default(0.9),
  /** Total memory of one GPU; without it there is no budget, so no fit and no concurrency. */
  gpuMemoryBytes: z.number().positive().optional(),
  kvCacheDtype: z.enum(['auto', 'fp8', 'fp8_e4m3', 'fp8_e5m2']).default('auto'),
  maxNumBatchedTokens: z.number().int().positive().optional(),
  maxNumSeqs: z.number().int().positive().default(DEFAULT_MAX_NUM_SEQS),
  enforceEager: z.boolean().default(false),
  /** vLLM's --disable-hybrid-kv-cache-manager: sliding-window layers then reserve the whole context, like full ones. */
  disableHybridKvCache: z.boolean().default(false),
});
export type EstimateSpec = z.input<typeof estimateSpecSchema>;

export interface MemoryEstimate {
  tpValid: boolean;
  error?: string;
  tp: number;
  pp: number;
  perGpu: { weightsBytes: number; kvCacheBytes: number; activationBytes: number; overheadBytes: number };
  /** What one GPU must hold: weights, activations, overhead and the KV cache of one max_model_len sequence. */
  perGpuBytes: number;
  budgetBytes?: number;
  /** Sequences of max_model_len the KV budget left after weights, activations and overhead holds; null without a GPU size. */
  maxConcurrentSequences: number | null;
  fits?: boolean;
  parameters: number | null;
  maxModelLen: number;
  kvCacheBytesPerToken: number;
  explanation: string[];
}

const gib = (bytes: number) => `${(bytes / GiB).toFixed(2)} GiB`;

function weightBytesPerElement(shape: ModelShape, dtype: string): number {
  if (dtype !== 'auto') return DTYPE_BYTES[dtype]!;
  // vLLM's "auto" keeps a 16-bit checkpoint's dtype and runs float32 checkpoints in 16 bits.
  return shape.torchDtype === 'float32' || !shape.torchDtype ? 2 : (DTYPE_BYTES[shape.torchDtype] ?? 2);
}

/** vLLM's own checks on a split, in its words where it has them (vllm/config.py, verify_with_parallel_config). */
function tensorParallelError(shape: ModelShape, tp: number): string | null {
  const denseLayers = shape.moe ? shape.moe.moeLayers.filter((m) => !m).length : shape.layers;
  if (shape.attentionHeads % tp !== 0) return `Total number of attention heads (${shape.attentionHeads}) must be divisible by tensor parallel size (${tp}).`;
  // The column-parallel MLP asserts an even split too ("18944 is not divisible by 7" for Qwen2.5-7B at
  // TP 7), but only while loading: the heads check comes first and is the one reported when both fail.
  if (denseLayers > 0 && shape.intermediateSize % tp !== 0) {
    return `Intermediate size (${shape.intermediateSize}) must be divisible by tensor parallel size (${tp}): each rank takes an equal slice of the MLP.`;
  }
  if (shape.moe && shape.moe.expertIntermediate % tp !== 0) {
    return `MoE expert intermediate size (${shape.moe.expertIntermediate}) must be divisible by tensor parallel size (${tp}): each rank takes an equal slice of every expert.`;
  }
  return null;
}

function describeShape(shape: ModelShape): string {
  const parts = [shape.architecture];
  if (shape.moe) parts.push(`${shape.moe.experts} experts in ${shape.moe.moeLayers.filter(Boolean).length} of ${shape.layers} layers${shape.moe.sharedIntermediate ? ', shared expert' : ''}`);
  if (shape.mla) parts.push('latent attention');
  if (shape.vision) parts.push(`${shape.vision.kind} vision tower ${(shape.vision.parameters / 1e9).toFixed(2)}B`);
  return parts.join(', ');
}

/**
 * What a deployment needs on each GPU, from a Hugging Face config.json (or a GGUF file read with
 * `readGgufModel`) and the deployment spec. Weights follow the real tensor split (vocab-parallel
 * embeddings, KV heads replicated below TP, every expert resident, quantized linears packed with
 * their scales and zero points); activations, CUDA graphs and runtime overhead are the documented
 * approximations in ./constants.
 */
export function estimateMemory(model: unknown | GgufModel, specInput: EstimateSpec = {}): MemoryEstimate {
  const parsed = estimateSpecSchema.safeParse(specInput);
  if (!parsed.success) {
    throw new EstimatorInputError(`Invalid deployment spec: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'spec'}: ${i.message}`).join('; ')}`);
  }
  const spec = parsed.data;
  const gguf = isGgufModel(model) ? model : null;
  const shape = gguf ? shapeFromGguf(gguf) : shapeFromHfConfig(model);
  const { tp, pp } = spec;
  const explanation: string[] = [];

  const tpError = tensorParallelError(shape, tp);
  const tpValid = tpError === null;
  const errors = tpError ? [tpError] : [];
  if (pp > shape.layers) errors.push(`Pipeline parallel size (${pp}) exceeds the number of hidden layers (${shape.layers}): each stage needs at least one layer.`);

  const maxModelLen = spec.maxModelLen ?? shape.maxPositionEmbeddings ?? 2048;
  const elementBytes = weightBytesPerElement(shape, spec.dtype);

  let weightsBytes: number;
  if (gguf) {
    weightsBytes = Math.ceil(gguf.fileBytes / (tp * pp));
    explanation.push(`Weights: the GGUF file's ${gib(gguf.fileBytes)} split over TP ${tp} x PP ${pp} = ${gib(weightsBytes)} per GPU.`);
  } else {
    const quantization = effectiveQuantization(shape.quantization, spec.quantization);
    const stage = busiestStage(shape, tp, pp, quantization, elementBytes);
    weightsBytes = stage.bytes;
    const packed = quantization
      ? `${quantization.label}: ${(stage.linear / 1e9).toFixed(2)}B weights packed at ${((8 * (stage.bytes - stage.unquantized * elementBytes)) / Math.max(stage.linear, 1)).toFixed(2)} bits each with scales, ${(stage.unquantized / 1e9).toFixed(2)}B (embeddings, norms, routers${shape.vision ? ', vision' : ''}, skipped modules) at ${elementBytes} bytes`
      : `${elementBytes} bytes each`;
    explanation.push(
      `Weights: ${(parameterCount(shape) / 1e9).toFixed(2)}B parameters (${describeShape(shape)}), ${packed}, ` +
        `split over TP ${tp} x PP ${pp}: ${gib(weightsBytes)} on the busiest GPU${pp > 1 ? ` (stage ${stage.stage})` : ''}.`,
    );
  }

  const batchedTokens = spec.maxNumBatchedTokens ?? Math.max(MIN_MAX_NUM_BATCHED_TOKENS, Math.min(maxModelLen, DEFAULT_MAX_NUM_BATCHED_TOKENS));
  const kvElementBytes = spec.kvCacheDtype === 'auto' ? (DTYPE_BYTES[shape.torchDtype === 'float32' ? 'float16' : (shape.torchDtype ?? 'float16')] ?? 2) : 1;
  const kv = kvCache(shape, { tp, pp, maxModelLen, batchedTokens, elementBytes: kvElementBytes, hybrid: !spec.disableHybridKvCache });
  const kvCacheBytesPerToken = kv.bytesPerToken;
  const kvCacheBytes = kv.sequenceBytes;
  explanation.push(`${kv.explanation} ${gib(kvCacheBytes)}.`);

  const hiddenStates = batchedTokens * (shape.hiddenSize + (2 * Math.ceil(shape.intermediateSize / tp))) * elementBytes * ACTIVATION_FACTOR;
  const logits = spec.maxNumSeqs * Math.ceil(paddedVocab(shape) / tp) * 4;
  const activationBytes = Math.ceil(hiddenStates + logits);
  explanation.push(`Activation peak (vLLM's profile run): ${batchedTokens} batched tokens and ${spec.maxNumSeqs} sequences' float32 logits ≈ ${gib(activationBytes)}.`);

  const collectives = tp * pp > 1 ? COLLECTIVES_OVERHEAD_BYTES : 0;
  const graphs = spec.enforceEager ? 0 : CUDA_GRAPH_BYTES;
  const overheadBytes = NON_TORCH_OVERHEAD_BYTES + collectives + graphs;
  explanation.push(
    `Overhead: CUDA context and workspaces ${gib(NON_TORCH_OVERHEAD_BYTES)}` +
      (collectives ? `, NCCL buffers ${gib(collectives)}` : '') +
      (graphs ? `, CUDA graphs ${gib(graphs)}` : ' (eager mode: no CUDA graphs)') +
      '.',
  );

  const perGpuBytes = weightsBytes + kvCacheBytes + activationBytes + overheadBytes;
  const estimate: MemoryEstimate = {
    tpValid,
    tp,
    pp,
    perGpu: { weightsBytes, kvCacheBytes, activationBytes, overheadBytes },
    perGpuBytes,
    maxConcurrentSequences: null,
    parameters: gguf ? null : parameterCount(shape),
    maxModelLen,
    kvCacheBytesPerToken,
    explanation,
  };
  if (errors.length) estimate.error = errors.join(' ');

  if (spec.gpuMemoryBytes !== undefined) {
    const budgetBytes = Math.floor(spec.gpuMemoryBytes * spec.gpuMemoryUtilization);
    const kvBudget = budgetBytes - weightsBytes - activationBytes - overheadBytes;
    estimate.budgetBytes = budgetBytes;
    estimate.maxConcurrentSequences = maxSequences(kvBudget, kvCacheBytes);
    estimate.fits = errors.length === 0 && perGpuBytes <= budgetBytes;
    explanation.push(
      `Budget: ${spec.gpuMemoryUtilization} x ${gib(spec.gpuMemoryBytes)} = ${gib(budgetBytes)}; ` +
        (kvBudget > 0 ? `${gib(kvBudget)} is left for the KV cache: ${estimate.maxConcurrentSequences} sequence(s) of ${maxModelLen} tokens at once.` : `weights, activations and overhead alone exceed it by ${gib(-kvBudget)}.`),
    );
    if (!estimate.fits && !errors.length) {
      explanation.push(`Does not fit: ${gib(perGpuBytes)} needed per GPU, ${gib(budgetBytes)} allowed. Raise TP or PP, quantize, or lower max_model_len.`);
    }
  }
  return estimate;
}

/** How many whole sequences of `sequenceBytes` a KV budget holds (vLLM's "Maximum concurrency ... x", rounded down). */
export function maxSequences(kvBudgetBytes: number, sequenceBytes: number): number {
  return kvBudgetBytes <= 0 ? 0 : Math.floor(kvBudgetBytes / sequenceBytes);
}
