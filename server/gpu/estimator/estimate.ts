import { z } from 'zod';
import {
  ACTIVATION_FACTOR,
  COLLECTIVES_OVERHEAD_BYTES,
  CUDA_GRAPH_BYTES,
  DEFAULT_MAX_NUM_BATCHED_TOKENS,
  DEFAULT_MAX_NUM_SEQS,
  DTYPE_BYTES,
  GiB,
  KV_BLOCK_TOKENS,
  MIN_MAX_NUM_BATCHED_TOKENS,
  NON_TORCH_OVERHEAD_BYTES,
  QUANTIZATION_BYTES,
} from './constants';
import { isGgufModel, shapeFromGguf, type GgufModel } from './gguf';
import { EstimatorInputError, shapeFromHfConfig, type ModelShape } from './shape';
import { kvHeadsPerGpu, paddedVocab, parameterCount, weightsPerGpu } from './weights';

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

function quantizedBytes(method: string, bits: number | null): number {
  const known = QUANTIZATION_BYTES[method];
  if (known === undefined) throw new EstimatorInputError(`Unknown quantization "${method}": known are ${Object.keys(QUANTIZATION_BYTES).join(', ')}`);
  // AWQ/GPTQ checkpoints may be 8-bit (or 3-bit): same group overhead, other width.
  if (bits && /^(awq|gptq)/.test(method)) return bits / 8 + 2.5 / 128;
  return known;
}

/**
 * What a deployment needs on each GPU, from a Hugging Face config.json (or a GGUF file read with
 * `readGgufModel`) and the deployment spec. Weights follow the real tensor split (vocab-parallel
 * embeddings, KV heads replicated below TP); activations, CUDA graphs and runtime overhead are
 * the documented approximations in ./constants.
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

  const errors: string[] = [];
  const headsSplit = shape.attentionHeads % tp === 0;
  // vLLM's column-parallel MLP asserts an even split too ("18944 is not divisible by 7" for Qwen2.5-7B at
  // TP 7), but only while loading: the heads check comes first and is the one reported when both fail.
  const mlpSplits = shape.intermediateSize % tp === 0;
  const tpValid = headsSplit && mlpSplits;
  if (!headsSplit) {
    // vLLM's own check and wording (vllm/config.py, verify_with_parallel_config).
    errors.push(`Total number of attention heads (${shape.attentionHeads}) must be divisible by tensor parallel size (${tp}).`);
  } else if (!mlpSplits) {
    errors.push(`Intermediate size (${shape.intermediateSize}) must be divisible by tensor parallel size (${tp}): each rank takes an equal slice of the MLP.`);
  }
  if (pp > shape.layers) errors.push(`Pipeline parallel size (${pp}) exceeds the number of hidden layers (${shape.layers}): each stage needs at least one layer.`);

  const maxModelLen = spec.maxModelLen ?? shape.maxPositionEmbeddings ?? 2048;
  const elementBytes = weightBytesPerElement(shape, spec.dtype);
  const quantization = spec.quantization ?? shape.quantization?.method ?? null;

  let weightsBytes: number;
  if (gguf) {
    weightsBytes = Math.ceil(gguf.fileBytes / (tp * pp));
    explanation.push(`Weights: the GGUF file's ${gib(gguf.fileBytes)} split over TP ${tp} x PP ${pp} = ${gib(weightsBytes)} per GPU.`);
  } else {
    const split = weightsPerGpu(shape, tp, pp);
    const linearBytes = quantization ? quantizedBytes(quantization, spec.quantization ? null : (shape.quantization?.bits ?? null)) : elementBytes;
    weightsBytes = Math.ceil(split.linear * linearBytes + split.unquantized * elementBytes);
    explanation.push(
      `Weights: ${(parameterCount(shape) / 1e9).toFixed(2)}B parameters (${shape.architecture}${shape.experts > 1 ? `, ${shape.experts} experts` : ''}) at ` +
        `${quantization ? `${quantization} (${linearBytes.toFixed(3)} bytes per linear weight, ${elementBytes} for embeddings and norms)` : `${elementBytes} bytes each`}, ` +
        `split over TP ${tp} x PP ${pp}: ${gib(weightsBytes)} on the busiest GPU.`,
    );
  }

  const kvElementBytes = spec.kvCacheDtype === 'auto' ? (DTYPE_BYTES[shape.torchDtype === 'float32' ? 'float16' : (shape.torchDtype ?? 'float16')] ?? 2) : 1;
  const kvHeads = kvHeadsPerGpu(shape, tp);
  const kvCacheBytesPerToken = 2 * Math.ceil(shape.layers / pp) * kvHeads * shape.headDim * kvElementBytes;
  const sequenceTokens = Math.ceil(maxModelLen / KV_BLOCK_TOKENS) * KV_BLOCK_TOKENS;
  const kvCacheBytes = sequenceTokens * kvCacheBytesPerToken;
  explanation.push(
    `KV cache: 2 x ${Math.ceil(shape.layers / pp)} layers x ${kvHeads} KV heads${shape.kvHeads < tp ? ' (replicated: fewer KV heads than TP ranks)' : ''} x ${shape.headDim} x ${kvElementBytes} bytes = ` +
      `${kvCacheBytesPerToken} bytes per token; one sequence of ${maxModelLen} tokens (${sequenceTokens / KV_BLOCK_TOKENS} blocks of ${KV_BLOCK_TOKENS}) takes ${gib(kvCacheBytes)}.`,
  );

  const batchedTokens = spec.maxNumBatchedTokens ?? Math.max(MIN_MAX_NUM_BATCHED_TOKENS, Math.min(maxModelLen, DEFAULT_MAX_NUM_BATCHED_TOKENS));
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
