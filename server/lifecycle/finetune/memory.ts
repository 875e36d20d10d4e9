import { GiB, isGgufModel, parameterCount, shapeFromGguf, shapeFromHfConfig, type GgufModel, type ModelShape } from '../../gpu/estimator';
import { ALL_LINEAR, type FinetuneSpec } from './spec';

/**
 * GPU memory of one LoRA fine-tune process (each data-parallel GPU holds all of it), as lora_sft.py
 * runs it: a frozen bf16 base, fp32 LoRA weights trained with AdamW, no gradient checkpointing, and
 * PyTorch's SDPA attention (transformers' default), which never materialises the seq x seq scores.
 */

/** Frozen base weights in bfloat16 (the runner always passes --bf16). */
export const BASE_BYTES_PER_PARAM = 2;
/** A trained LoRA parameter: fp32 weight, fp32 gradient and AdamW's two fp32 moments. */
export const LORA_BYTES_PER_PARAM = 4 + 4 + 8;
/**
 * Activations kept for the backward pass, bytes per token per hidden unit per layer. Korthikanti et al.
 * ("Reducing Activation Recomputation in Large Transformer Models", 2022) count 34·s·b·h bytes per layer
 * in 16-bit, plus 5·a·s²·b for the attention scores; SDPA's memory-efficient kernels drop the s² term.
 * LoRA freezes the base but backward still runs through every layer, so all of it is kept.
 */
export const ACTIVATION_BYTES_PER_TOKEN_HIDDEN_LAYER = 34;
/** The loss upcasts the logits to fp32 and keeps their gradient: batch x seq x vocab x (4 + 4) bytes. */
export const LOGITS_BYTES_PER_ELEMENT = 8;
/** CUDA context, cuBLAS workspaces and the caching allocator's fragmentation. */
export const TRAINING_OVERHEAD_BYTES = 1 * GiB;

const ATTENTION = ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const;
const MLP = ['gate_proj', 'up_proj', 'down_proj'] as const;

/** [d_in, d_out] of each projection a LoRA can wrap, for one layer (TP 1). */
function projectionShapes(shape: ModelShape): Record<string, [number, number]> {
  const h = shape.hiddenSize;
  const q = shape.attentionHeads * shape.headDim;
  const kv = shape.kvHeads * shape.headDim;
  const i = shape.intermediateSize;
  return { q_proj: [h, q], k_proj: [h, kv], v_proj: [h, kv], o_proj: [q, h], gate_proj: [h, i], up_proj: [h, i], down_proj: [i, h] };
}

/** Trainable parameters: A (r x d_in) plus B (d_out x r) per wrapped matrix per layer, every expert's MLP in a MoE. */
export function loraParameterCount(shape: ModelShape, r: number, targetModules: readonly string[]): number {
  const targets = targetModules.includes(ALL_LINEAR) ? [...ATTENTION, ...MLP] : targetModules;
  const dims = projectionShapes(shape);
  let perLayer = 0;
  for (const name of targets) {
    // PEFT matches a name against the end of each module's path: "self_attn.q_proj" is q_proj.
    const leaf = name.split('.').pop()!;
    const d = dims[leaf];
    if (!d) continue;
    const copies = (MLP as readonly string[]).includes(leaf) ? shape.experts : 1;
    perLayer += copies * r * (d[0] + d[1]);
  }
  return perLayer * shape.layers;
}

export interface TrainingMemoryEstimate {
  parameters: number;
  loraParameters: number;
  perGpu: { weightsBytes: number; loraBytes: number; activationBytes: number; logitsBytes: number; overheadBytes: number };
  perGpuBytes: number;
  explanation: string[];
}

export function modelShape(config: unknown | GgufModel): ModelShape {
  return isGgufModel(config) ? shapeFromGguf(config) : shapeFromHfConfig(config);
}

type MemorySpec = Pick<FinetuneSpec, 'lora_r' | 'target_modules' | 'per_device_batch_size' | 'max_seq_length'>;

const gib = (b: number) => `${(b / GiB).toFixed(2)} GiB`;

export function estimateTrainingMemory(config: unknown | GgufModel, spec: MemorySpec): TrainingMemoryEstimate {
  const shape = modelShape(config);
  const parameters = parameterCount(shape);
  const loraParameters = loraParameterCount(shape, spec.lora_r, spec.target_modules);
  const uncounted = spec.target_modules.filter((m) => m !== ALL_LINEAR && !(m.split('.').pop()! in projectionShapes(shape)));
  const tokens = spec.per_device_batch_size * spec.max_seq_length;
  const perGpu = {
    weightsBytes: parameters * BASE_BYTES_PER_PARAM,
    loraBytes: loraParameters * LORA_BYTES_PER_PARAM,
    activationBytes: tokens * shape.hiddenSize * shape.layers * ACTIVATION_BYTES_PER_TOKEN_HIDDEN_LAYER,
    logitsBytes: tokens * shape.vocabSize * LOGITS_BYTES_PER_ELEMENT,
    overheadBytes: TRAINING_OVERHEAD_BYTES,
  };
  const perGpuBytes = Object.values(perGpu).reduce((a, b) => a + b, 0);
  return {
    parameters,
    loraParameters,
    perGpu,
    perGpuBytes,
    explanation: [
      `base weights: ${(parameters / 1e9).toFixed(2)}B parameters x ${BASE_BYTES_PER_PARAM} bytes (bf16, frozen) = ${gib(perGpu.weightsBytes)}`,
      `LoRA: ${loraParameters.toLocaleString('en')} parameters x ${LORA_BYTES_PER_PARAM} bytes (fp32 weight, gradient, 2 AdamW states) = ${gib(perGpu.loraBytes)}`,
      `activations: ${spec.per_device_batch_size} x ${spec.max_seq_length} tokens x ${shape.hiddenSize} hidden x ${shape.layers} layers x ${ACTIVATION_BYTES_PER_TOKEN_HIDDEN_LAYER} bytes = ${gib(perGpu.activationBytes)}`,
      `logits: ${tokens} tokens x ${shape.vocabSize} vocab x ${LOGITS_BYTES_PER_ELEMENT} bytes (fp32 and gradient) = ${gib(perGpu.logitsBytes)}`,
      `CUDA context and allocator overhead: ${gib(perGpu.overheadBytes)}`,
      ...(uncounted.length ? [`not counted (not a known projection of ${shape.architecture}): ${uncounted.join(', ')}`] : []),
      `total per GPU: ${gib(perGpuBytes)}`,
    ],
  };
}
