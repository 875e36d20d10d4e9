/**
 * The few numbers of a decoder-only transformer that decide its memory, read from a Hugging Face
 * config.json. Llama, Mistral, Qwen2 and Mixtral (MoE) share these field names.
 */
export interface ModelShape {
  architecture: string;
  layers: number;
  hiddenSize: number;
  intermediateSize: number;
  attentionHeads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  tiedEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2). */
  qkvBias: boolean;
  /** 1 for a dense model; the expert count for MoE (every expert's weights are resident). */
  experts: number;
  /** The dtype the checkpoint was saved in ("bfloat16"...); null when the config does not say. */
  torchDtype: string | null;
  maxPositionEmbeddings: number | null;
  /** From `quantization_config` of a pre-quantized checkpoint (AWQ/GPTQ/FP8), when present. */
  quantization: { method: string; bits: number | null } | null;
}

export class EstimatorInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EstimatorInputError';
  }
}

function positiveInt(config: Record<string, unknown>, field: string, fallback?: number): number {
  const value = config[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new EstimatorInputError(`config.json: ${field} must be a positive integer${config[field] === undefined ? ' (it is missing)' : `, not ${JSON.stringify(config[field])}`}`);
  }
  return value;
}

export function shapeFromHfConfig(raw: unknown): ModelShape {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new EstimatorInputError('config.json must be a JSON object');
  // Multimodal wrappers (Qwen2-VL, Llava...) keep the language model's numbers under text_config.
  const config = (typeof (raw as { text_config?: unknown }).text_config === 'object'
    ? { ...(raw as object), ...((raw as { text_config: object }).text_config) }
    : raw) as Record<string, unknown>;
  const architecture = Array.isArray(config.architectures) && typeof config.architectures[0] === 'string' ? config.architectures[0] : String(config.model_type ?? 'unknown');
  const hiddenSize = positiveInt(config, 'hidden_size');
  const attentionHeads = positiveInt(config, 'num_attention_heads');
  const quant = config.quantization_config as { quant_method?: unknown; bits?: unknown } | undefined;
  return {
    architecture,
    layers: positiveInt(config, 'num_hidden_layers'),
    hiddenSize,
    intermediateSize: positiveInt(config, 'intermediate_size'),
    attentionHeads,
    // Older configs (Llama 1/2 7B) omit it: every head has its own keys and values.
    kvHeads: positiveInt(config, 'num_key_value_heads', attentionHeads),
    headDim: config.head_dim == null ? hiddenSize / attentionHeads : positiveInt(config, 'head_dim'),
    vocabSize: positiveInt(config, 'vocab_size'),
    tiedEmbeddings: config.tie_word_embeddings === true,
    qkvBias: config.attention_bias === true || /^Qwen2(Moe)?ForCausalLM$/.test(architecture),
    experts: config.num_local_experts == null ? 1 : positiveInt(config, 'num_local_experts'),
    torchDtype: typeof config.torch_dtype === 'string' ? config.torch_dtype : typeof config.dtype === 'string' ? config.dtype : null,
    maxPositionEmbeddings: typeof config.max_position_embeddings === 'number' ? config.max_position_embeddings : null,
    quantization: quant && typeof quant.quant_method === 'string' ? { method: quant.quant_method, bits: typeof quant.bits === 'number' ? quant.bits : null } : null,
  };
}
