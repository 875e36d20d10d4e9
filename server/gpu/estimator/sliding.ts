import { countField, EstimatorInputError, positiveInt, type Config } from './fields';
import type { ModelShape } from './shape';

export type SlidingRule = 'none' | 'all' | 'qwen' | 'gemma2' | 'gemma3';

/**
 * Which decoder layers use sliding-window attention, as vLLM decides it. vLLM's attention layers take a
 * per-layer window from `layer_types` (vllm/model_executor/models/llama.py, qwen2.py, gemma3.py), which
 * transformers derives for Qwen2/Qwen3 (sliding only with `use_sliding_window`, from layer
 * `max_window_layers` on), Gemma 2 (alternating, starting with a sliding layer) and Gemma 3 (every
 * `sliding_window_pattern`-th layer full); a layer without one inherits the model-wide `sliding_window`
 * (cache_config.sliding_window), so Mistral and Mixtral slide on every layer when it is set. The window
 * only changes the KV cache vLLM reserves (see kv-cache.ts), not the weights.
 */
export function applySlidingWindow(shape: ModelShape, config: Config, rule: SlidingRule): void {
  const n = shape.layers;
  let sliding: boolean[];
  if (Array.isArray(config.layer_types)) {
    if (config.layer_types.length !== n) {
      throw new EstimatorInputError(`config.json: layer_types lists ${config.layer_types.length} layers, but num_hidden_layers is ${n}`);
    }
    const unknown = config.layer_types.find((t) => t !== 'sliding_attention' && t !== 'full_attention');
    if (unknown !== undefined) {
      throw new EstimatorInputError(`config.json: layer_types contains ${JSON.stringify(unknown)}; the memory estimator knows only full_attention and sliding_attention layers`);
    }
    sliding = config.layer_types.map((t) => t === 'sliding_attention');
  } else if (rule === 'none' || config.sliding_window == null) {
    sliding = Array(n).fill(false);
  } else if (rule === 'all') {
    sliding = Array(n).fill(true);
  } else if (rule === 'qwen') {
    const from = countField(config, 'max_window_layers', 0);
    sliding = Array.from({ length: n }, (_, i) => config.use_sliding_window === true && i >= from);
  } else if (rule === 'gemma2') {
    sliding = Array.from({ length: n }, (_, i) => i % 2 === 0);
  } else {
    const pattern = positiveInt(config, config.sliding_window_pattern != null ? 'sliding_window_pattern' : '_sliding_window_pattern', 6);
    sliding = Array.from({ length: n }, (_, i) => (i + 1) % pattern !== 0);
  }
  if (sliding.some(Boolean)) {
    shape.slidingWindow = positiveInt(config, 'sliding_window');
    shape.layerAttention = sliding.map((s) => (s ? 'sliding' : 'full'));
  }
}
