import { KV_BLOCK_TOKENS } from './constants';
import type { ModelShape } from './shape';
import { kvHeadsPerGpu, stageLayers } from './tensors';

export interface KvCacheEstimate {
  /** Bytes per token if every layer of the busiest stage cached it (what a full-attention model pays per token). */
  bytesPerToken: number;
  /** The KV cache vLLM reserves for one sequence of max_model_len on the busiest GPU. */
  sequenceBytes: number;
  explanation: string;
}

const blocks = (tokens: number) => Math.ceil(tokens / KV_BLOCK_TOKENS);

/**
 * One layer's KV bytes per token on one GPU. Multi-head attention caches K and V for its KV heads
 * (split over TP, replicated below it). MLA caches the compressed latent, kv_lora_rank +
 * qk_rope_head_dim elements, once: vLLM's MLAAttentionSpec has one KV "head" of that size, no separate
 * V, and every TP rank keeps the whole latent (num_kv_heads=1 in vLLM's deepseek_v2.py).
 */
export function layerBytesPerToken(shape: ModelShape, tp: number, elementBytes: number): number {
  if (shape.mla) return (shape.mla.kvLoraRank + shape.mla.qkRopeHeadDim) * elementBytes;
  return 2 * kvHeadsPerGpu(shape, tp) * shape.headDim * elementBytes;
}

/**
 * vLLM V1's hybrid KV cache manager (vllm/v1/kv_cache_interface.py) reserves per request: for a full
 * attention layer, cdiv(max_model_len, block) blocks (FullAttentionSpec); for a sliding-window layer,
 * cdiv(min(window - 1 + max_num_batched_tokens, max_model_len), block) + 1 blocks (SlidingWindowSpec),
 * since tokens that left the window are freed. Without the hybrid manager (--disable-hybrid-kv-cache-manager,
 * or the V0 engine) sliding layers are FullAttentionSpec and reserve the whole context. The busiest stage
 * is the one whose layers reserve most.
 */
export function kvCache(shape: ModelShape, opts: { tp: number; pp: number; maxModelLen: number; batchedTokens: number; elementBytes: number; hybrid: boolean }): KvCacheEstimate {
  const perLayer = layerBytesPerToken(shape, opts.tp, opts.elementBytes);
  const fullBlocks = blocks(opts.maxModelLen);
  const slidingBlocks = shape.slidingWindow && opts.hybrid ? blocks(Math.min(shape.slidingWindow - 1 + opts.batchedTokens, opts.maxModelLen)) + 1 : fullBlocks;
  let best = { layers: 0, sliding: 0, bytes: -1 };
  for (const [start, end] of stageLayers(shape.layers, opts.pp)) {
    const sliding = shape.layerAttention.slice(start, end).filter((a) => a === 'sliding').length;
    const layers = end - start;
    const bytes = ((layers - sliding) * fullBlocks + sliding * slidingBlocks) * KV_BLOCK_TOKENS * perLayer;
    if (bytes > best.bytes) best = { layers, sliding, bytes };
  }
  const what = shape.mla
    ? `${shape.mla.kvLoraRank} + ${shape.mla.qkRopeHeadDim} latent elements (MLA, the same on every TP rank)`
    : `2 x ${kvHeadsPerGpu(shape, opts.tp)} KV heads${shape.kvHeads < opts.tp ? ' (replicated: fewer KV heads than TP ranks)' : ''} x ${shape.headDim}`;
  const window = best.sliding
    ? `; ${best.sliding} of them slide over ${shape.slidingWindow} tokens and hold ${slidingBlocks} blocks instead of ${fullBlocks}`
    : '';
  return {
    bytesPerToken: best.layers * perLayer,
    sequenceBytes: best.bytes,
    explanation: `KV cache: ${best.layers} layers x ${what} x ${opts.elementBytes} bytes = ${best.layers * perLayer} bytes per token${window}; one sequence of ${opts.maxModelLen} tokens (${fullBlocks} blocks of ${KV_BLOCK_TOKENS}) takes`,
  };
}
