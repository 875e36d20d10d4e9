import { EstimatorInputError, optionalPositiveInt, positiveInt, type Config } from './fields';
import { deepseekMoe, mixtralMoe, qwenMoe } from './moe';
import { baseShape, type ModelShape } from './shape';
import { applySlidingWindow, type SlidingRule } from './sliding';
import { qwenVisionTower, siglipTower } from './vision';

type Reader = (config: Config, raw: Config) => ModelShape;
type MoeKind = 'mixtral' | 'qwen2' | 'qwen3' | 'deepseek';

interface Family {
  /** transformers' default when the config omits tie_word_embeddings (Gemma ties, Llama does not). */
  tied: boolean;
  qkvBias?: boolean;
  qkNorm?: boolean;
  normsPerLayer?: number;
  sliding: SlidingRule;
  moe?: MoeKind;
  mla?: boolean;
  vision?: 'siglip' | 'qwen2_vl' | 'qwen2_5_vl';
}

// A config's model-wide sliding_window reaches every layer without a per-layer one (vLLM's
// cache_config.sliding_window), so 'all' is the rule unless the family derives layer_types.
const LLAMA: Family = { tied: false, sliding: 'all' };
const FAMILIES: Record<string, Family> = {
  LlamaForCausalLM: LLAMA,
  MistralForCausalLM: { tied: false, sliding: 'all' },
  Qwen2ForCausalLM: { tied: false, qkvBias: true, sliding: 'qwen' },
  Qwen3ForCausalLM: { tied: false, qkNorm: true, sliding: 'qwen' },
  GemmaForCausalLM: { tied: true, sliding: 'all' },
  Gemma2ForCausalLM: { tied: true, normsPerLayer: 4, sliding: 'gemma2' },
  Gemma3ForCausalLM: { tied: true, normsPerLayer: 4, qkNorm: true, sliding: 'gemma3' },
  Gemma3ForConditionalGeneration: { tied: true, normsPerLayer: 4, qkNorm: true, sliding: 'gemma3', vision: 'siglip' },
  Qwen2VLForConditionalGeneration: { tied: false, qkvBias: true, sliding: 'qwen', vision: 'qwen2_vl' },
  Qwen2_5_VLForConditionalGeneration: { tied: false, qkvBias: true, sliding: 'qwen', vision: 'qwen2_5_vl' },
  MixtralForCausalLM: { tied: false, sliding: 'all', moe: 'mixtral' },
  Qwen2MoeForCausalLM: { tied: false, qkvBias: true, sliding: 'qwen', moe: 'qwen2' },
  Qwen3MoeForCausalLM: { tied: false, qkNorm: true, sliding: 'qwen', moe: 'qwen3' },
  DeepseekV2ForCausalLM: { tied: false, sliding: 'none', moe: 'deepseek', mla: true },
  DeepseekV3ForCausalLM: { tied: false, sliding: 'none', moe: 'deepseek', mla: true },
};

/** model_type → architecture, for configs that name only their model_type. */
const MODEL_TYPES: Record<string, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  gemma: 'GemmaForCausalLM',
  gemma2: 'Gemma2ForCausalLM',
  gemma3_text: 'Gemma3ForCausalLM',
  gemma3: 'Gemma3ForConditionalGeneration',
  qwen2_vl: 'Qwen2VLForConditionalGeneration',
  qwen2_5_vl: 'Qwen2_5_VLForConditionalGeneration',
  mixtral: 'MixtralForCausalLM',
  qwen2_moe: 'Qwen2MoeForCausalLM',
  qwen3_moe: 'Qwen3MoeForCausalLM',
  deepseek_v2: 'DeepseekV2ForCausalLM',
  deepseek_v3: 'DeepseekV3ForCausalLM',
};

export const knownArchitectures = () => Object.keys(FAMILIES);

/** The reader for a config's architecture (or, without one, its model_type); null when not taught. */
export function architectureReader(architecture: string | null, modelType: string | null): Reader | null {
  const name = architecture ?? (modelType ? MODEL_TYPES[modelType] : undefined);
  const family = name ? FAMILIES[name] : undefined;
  return family ? (config, raw) => readFamily(name!, family, config, raw) : null;
}

function readFamily(architecture: string, family: Family, config: Config, raw: Config): ModelShape {
  refuseForeignFields(architecture, family, config);
  const shape = baseShape(config, architecture);
  shape.tiedEmbeddings = typeof config.tie_word_embeddings === 'boolean' ? config.tie_word_embeddings : family.tied;
  shape.qkvBias = family.qkvBias === true || shape.qkvBias;
  shape.qkNorm = family.qkNorm === true;
  shape.normsPerLayer = family.normsPerLayer ?? 2;
  applySlidingWindow(shape, config, family.sliding);
  if (family.moe) {
    shape.moe =
      family.moe === 'mixtral' ? mixtralMoe(config, shape) : family.moe === 'deepseek' ? deepseekMoe(config, shape) : qwenMoe(config, shape, family.moe === 'qwen2');
    shape.experts = shape.moe?.experts ?? 1;
  }
  if (family.mla) {
    // DeepSeek-V3's num_nextn_predict_layers (the multi-token-prediction layer, 14B of the hub's 685B) is
    // loaded by vLLM only as a speculative-decoding draft, so it is not counted here.
    shape.mla = {
      qLoraRank: optionalPositiveInt(config, 'q_lora_rank'),
      kvLoraRank: positiveInt(config, 'kv_lora_rank'),
      qkNopeHeadDim: positiveInt(config, 'qk_nope_head_dim'),
      qkRopeHeadDim: positiveInt(config, 'qk_rope_head_dim'),
      vHeadDim: positiveInt(config, 'v_head_dim'),
    };
    shape.headDim = shape.mla.qkNopeHeadDim + shape.mla.qkRopeHeadDim;
  }
  if (family.vision === 'siglip') {
    shape.vision = siglipTower(raw, shape.hiddenSize);
    shape.textPrefix = 'language_model.model.';
  } else if (family.vision) {
    // Qwen2-VL checkpoints keep the decoder under model.* and the tower under visual.*.
    shape.vision = qwenVisionTower(raw, family.vision, shape.hiddenSize);
  }
  return shape;
}

const MOE_FIELDS = ['num_local_experts', 'num_experts', 'n_routed_experts', 'n_shared_experts', 'shared_expert_intermediate_size', 'first_k_dense_replace'];
const MOE_FIELDS_BY_KIND: Record<MoeKind, string[]> = {
  mixtral: ['num_local_experts'],
  qwen2: ['num_experts', 'shared_expert_intermediate_size'],
  qwen3: ['num_experts', 'shared_expert_intermediate_size'],
  deepseek: ['n_routed_experts', 'n_shared_experts', 'first_k_dense_replace'],
};

/** A field that changes the shape but that this family's reader does not use is refused, not ignored. */
function refuseForeignFields(architecture: string, family: Family, config: Config): void {
  const meaningful = (field: string) => config[field] != null && config[field] !== 0 && !(Array.isArray(config[field]) && (config[field] as unknown[]).length === 0);
  const allowed = family.moe ? MOE_FIELDS_BY_KIND[family.moe] : [];
  const foreign = MOE_FIELDS.find((f) => !allowed.includes(f) && meaningful(f));
  if (foreign) throw foreignField(architecture, foreign, config[foreign], 'a mixture-of-experts field its reader does not use');
  if (family.moe === 'qwen3' && meaningful('shared_expert_intermediate_size')) {
    throw foreignField(architecture, 'shared_expert_intermediate_size', config.shared_expert_intermediate_size, 'a shared expert, which vLLM’s Qwen3-MoE does not build');
  }
  if (!family.mla && (meaningful('kv_lora_rank') || meaningful('q_lora_rank'))) {
    const field = meaningful('kv_lora_rank') ? 'kv_lora_rank' : 'q_lora_rank';
    throw foreignField(architecture, field, config[field], 'latent attention, which only the DeepSeek readers account for');
  }
  if (!family.vision && config.vision_config != null) {
    throw foreignField(architecture, 'vision_config', '{…}', 'a vision tower this reader does not count');
  }
}

const foreignField = (architecture: string, field: string, value: unknown, what: string) =>
  new EstimatorInputError(`config.json: ${field} (${typeof value === 'string' ? value : JSON.stringify(value)}) describes ${what} for ${architecture}; refusing to estimate a shape the estimator cannot account for`);
