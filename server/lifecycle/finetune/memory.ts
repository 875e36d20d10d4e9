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

/** [d_in, d_out] of each attention projection a LoRA can wrap, for one layer (TP 1). */
function attentionShapes(shape: ModelShape): Record<string, [number, number]> {
  const h = shape.hiddenSize;
  const q = shape.attentionHeads * shape.headDim;
  const kv = shape.kvHeads * shape.headDim;
  return { q_proj: [h, q], k_proj: [h, kv], v_proj: [h, kv], o_proj: [q, h] };
}

/**
 * The widths of the gated MLPs in one decoder layer, each with its own gate/up/down projections: the dense
 * MLP, or in a MoE layer every routed expert plus the shared expert(s) (PEFT's "gate_proj" matches the
 * shared expert's too). MoE models keep dense MLPs in some layers (DeepSeek's first_k_dense_replace,
 * Qwen's mlp_only_layers), so this is per layer.
 */
function mlpWidths(shape: ModelShape, layer: number): number[] {
  if (!shape.moe) return [shape.intermediateSize];
  if (!shape.moe.moeLayers[layer]) return [shape.intermediateSize];
  const widths: number[] = new Array(shape.moe.experts).fill(shape.moe.expertIntermediate);
  if (shape.moe.sharedIntermediate) widths.push(shape.moe.sharedIntermediate);
  return widths;
}

const isKnownTarget = (shape: ModelShape, leaf: string) => leaf in attentionShapes(shape) || (MLP as readonly string[]).includes(leaf);

/** Trainable parameters: A (r x d_in) plus B (d_out x r) per wrapped matrix per layer, every expert's MLP in a MoE. */
export function loraParameterCount(shape: ModelShape, r: number, targetModules: readonly string[]): number {
  // PEFT matches a name against the end of each module's path: "self_attn.q_proj" is q_proj.
  const leaves = (targetModules.includes(ALL_LINEAR) ? [...ATTENTION, ...MLP] : targetModules).map((name) => name.split('.').pop()!);
  const attention = attentionShapes(shape);
  const perAttention = leaves.reduce((sum, leaf) => sum + (attention[leaf] ? r * (attention[leaf][0] + attention[leaf][1]) : 0), 0);
  // gate_proj and up_proj are [h, w], down_proj [w, h]: each wrapped one adds r * (h + w).
  const mlpTargets = leaves.filter((leaf) => (MLP as readonly string[]).includes(leaf)).length;
  let total = 0;
  for (let layer = 0; layer < shape.layers; layer++) {
    const mlp = mlpWidths(shape, layer).reduce((sum, w) => sum + r * (shape.hiddenSize + w), 0);
    total += perAttention + mlpTargets * mlp;
  }
  return total;
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
  const uncounted = spec.target_modules.filter((m) => m !== ALL_LINEAR && !isKnownTarget(shape, m.split('.').pop()!));
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
