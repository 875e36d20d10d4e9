import { countField, intList, optionalPositiveInt, positiveInt, type Config } from './fields';
import type { MoeShape, ModelShape } from './shape';

/** Mixtral: every layer is MoE, `num_local_experts` experts of `intermediate_size`, no shared expert. */
export function mixtralMoe(config: Config, shape: ModelShape): MoeShape {
  return {
    experts: positiveInt(config, 'num_local_experts'),
    expertIntermediate: shape.intermediateSize,
    sharedIntermediate: 0,
    sharedExpertGate: false,
    routerBias: false,
    moeLayers: Array(shape.layers).fill(true),
  };
}

/**
 * Qwen2-MoE / Qwen3-MoE (vLLM's qwen2_moe.py, qwen3_moe.py): layer i is MoE when it is not in
 * `mlp_only_layers`, `num_experts` > 0 and (i + 1) % `decoder_sparse_step` == 0; the other layers use a
 * dense MLP of `intermediate_size`. Qwen2-MoE adds a shared expert of `shared_expert_intermediate_size`
 * scaled by a sigmoid gate; Qwen3-MoE has none (the field is absent or 0).
 */
export function qwenMoe(config: Config, shape: ModelShape, withSharedExpert: boolean): MoeShape | null {
  const experts = countField(config, 'num_experts', 0);
  if (experts === 0) return null;
  const step = positiveInt(config, 'decoder_sparse_step', 1);
  const mlpOnly = new Set(intList(config, 'mlp_only_layers'));
  const shared = withSharedExpert ? countField(config, 'shared_expert_intermediate_size', 0) : 0;
  return {
    experts,
    expertIntermediate: positiveInt(config, 'moe_intermediate_size'),
    sharedIntermediate: shared,
    sharedExpertGate: shared > 0,
    routerBias: false,
    moeLayers: Array.from({ length: shape.layers }, (_, i) => !mlpOnly.has(i) && (i + 1) % step === 0),
  };
}

/**
 * DeepSeek-V2/V3 (vLLM's deepseek_v2.py): the first `first_k_dense_replace` layers are dense
 * (`intermediate_size`), later layers are MoE where i % `moe_layer_freq` == 0, with `n_routed_experts`
 * experts and `n_shared_experts` shared experts, each of `moe_intermediate_size`. V3's `noaux_tc` routing
 * adds a per-expert correction bias to the router.
 */
export function deepseekMoe(config: Config, shape: ModelShape): MoeShape | null {
  const experts = optionalPositiveInt(config, 'n_routed_experts');
  if (experts === null) return null;
  const firstDense = countField(config, 'first_k_dense_replace', 0);
  const freq = positiveInt(config, 'moe_layer_freq', 1);
  const expertIntermediate = positiveInt(config, 'moe_intermediate_size');
  return {
    experts,
    expertIntermediate,
    sharedIntermediate: countField(config, 'n_shared_experts', 0) * expertIntermediate,
    sharedExpertGate: false,
    routerBias: config.topk_method === 'noaux_tc',
    moeLayers: Array.from({ length: shape.layers }, (_, i) => i >= firstDense && i % freq === 0),
  };
}
