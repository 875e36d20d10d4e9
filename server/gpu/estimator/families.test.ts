import { describe, expect, test } from 'vitest';
import { DomainError } from '../../core/errors';
import { loadFixture } from './configs/published';
import { estimateMemory, EstimatorInputError, parameterCount, shapeFromHfConfig } from '.';

type Config = Record<string, unknown>;
const fixture = (name: string) => loadFixture(name) as Config;
const qwen15moe = fixture('qwen1.5-moe-a2.7b');
const qwen3moe = fixture('qwen3-30b-a3b');
const dsLite = fixture('deepseek-v2-lite-chat');
const r1 = fixture('deepseek-r1-fp8');
const gemma3 = fixture('gemma-3-12b-it');
const qwenVl = fixture('qwen2.5-vl-3b-instruct');
const mistral = fixture('mistral-7b-instruct-v0.3');
const llama3 = fixture('meta-llama-3-8b');
const moeLayers = (c: unknown) => shapeFromHfConfig(c).moe!.moeLayers;

describe('mixture of experts under every naming', () => {
  test('Qwen2-MoE: 60 experts of moe_intermediate_size in every layer, plus a gated shared expert of shared_expert_intermediate_size', () => {
    const moe = shapeFromHfConfig(qwen15moe).moe!;
    expect(moe).toMatchObject({ experts: 60, expertIntermediate: 1408, sharedIntermediate: 5632, sharedExpertGate: true });
    expect(moe.moeLayers.every(Boolean)).toBe(true);
    // Without the shared expert the count drops by 24 x (3 x 2048 x 5632 + 2048) parameters.
    const noShared = shapeFromHfConfig({ ...qwen15moe, shared_expert_intermediate_size: 0 });
    expect(parameterCount(shapeFromHfConfig(qwen15moe)) - parameterCount(noShared)).toBe(24 * (3 * 2048 * 5632 + 2048));
  });

  test('decoder_sparse_step and mlp_only_layers make some layers dense, as vLLM’s qwen2_moe.py decides', () => {
    expect(moeLayers({ ...qwen3moe, decoder_sparse_step: 2 }).filter(Boolean)).toHaveLength(24);
    expect(moeLayers({ ...qwen3moe, decoder_sparse_step: 2 }).slice(0, 4)).toEqual([false, true, false, true]);
    const layers = moeLayers({ ...qwen3moe, mlp_only_layers: [0, 47] });
    expect([layers[0], layers[1], layers[47]]).toEqual([false, true, false]);
    // A dense layer is a gated MLP of intermediate_size (6144) instead of 128 experts of 768 and a router.
    const dense = parameterCount(shapeFromHfConfig({ ...qwen3moe, mlp_only_layers: [0] }));
    expect(parameterCount(shapeFromHfConfig(qwen3moe)) - dense).toBe(128 * 3 * 2048 * 768 + 2048 * 128 - 3 * 2048 * 6144);
  });

  test('DeepSeek: first_k_dense_replace dense layers, moe_layer_freq, n_shared_experts x moe_intermediate_size', () => {
    expect(moeLayers(dsLite).filter(Boolean)).toHaveLength(26);
    expect(moeLayers(dsLite)[0]).toBe(false);
    expect(moeLayers(r1).slice(0, 4)).toEqual([false, false, false, true]);
    expect(moeLayers({ ...dsLite, moe_layer_freq: 2 }).filter(Boolean)).toHaveLength(13);
    expect(shapeFromHfConfig(dsLite).moe).toMatchObject({ experts: 64, sharedIntermediate: 2 * 1408, routerBias: false });
    expect(shapeFromHfConfig(r1).moe).toMatchObject({ experts: 256, sharedIntermediate: 2048, routerBias: true });
  });

  test('experts split their width over TP, so the weights halve with TP 2 (within the replicated routers and norms)', () => {
    const one = estimateMemory(qwen3moe).perGpu.weightsBytes;
    const two = estimateMemory(qwen3moe, { tp: 2 }).perGpu.weightsBytes;
    expect(Math.abs(two / one - 0.5)).toBeLessThan(0.001);
    // Each rank takes an equal slice of every expert: a width TP does not divide is refused.
    const odd = estimateMemory({ ...qwen3moe, moe_intermediate_size: 760 }, { tp: 16 });
    expect([odd.tpValid, odd.error]).toEqual([false, 'MoE expert intermediate size (760) must be divisible by tensor parallel size (16): each rank takes an equal slice of every expert.']);
  });
});

describe('multi-head latent attention', () => {
  test('the KV cache per token per layer is kv_lora_rank + qk_rope_head_dim elements, not 2 x heads x head_dim', () => {
    const e = estimateMemory(dsLite, { maxModelLen: 4096 });
    expect(e.kvCacheBytesPerToken).toBe(27 * (512 + 64) * 2);
    expect(e.perGpu.kvCacheBytes).toBe(4096 * 27 * 576 * 2);
    expect(e.explanation[1]).toMatch(/512 \+ 64 latent elements \(MLA, the same on every TP rank\)/);
  });

  test('every TP rank keeps the whole latent (vLLM’s MLA has one KV head): TP does not split the KV cache', () => {
    expect(estimateMemory(r1, { tp: 8 }).kvCacheBytesPerToken).toBe(estimateMemory(r1, { tp: 1 }).kvCacheBytesPerToken);
    expect(estimateMemory(r1, { tp: 8 }).kvCacheBytesPerToken).toBe(61 * 576 * 2);
  });

  test('q_lora_rank adds the q_a/q_b pair; without it q_proj maps hidden to heads x (nope + rope)', () => {
    const withLora = parameterCount(shapeFromHfConfig({ ...dsLite, q_lora_rank: 1536 }));
    const plain = parameterCount(shapeFromHfConfig(dsLite));
    const perLayer = 2048 * 1536 + 1536 + 1536 * 16 * 192 - 2048 * 16 * 192;
    expect(withLora - plain).toBe(27 * perLayer);
  });
});

describe('sliding-window layers change the KV cache only where vLLM’s hybrid allocator does', () => {
  test('Gemma 3: 40 of 48 layers slide over 1024 tokens; each reserves cdiv(min(window-1+batched, len), 16)+1 blocks', () => {
    const e = estimateMemory(gemma3, { maxModelLen: 131072 });
    const perLayer = 2 * 8 * 256 * 2;
    const slidingBlocks = Math.ceil((1024 - 1 + 8192) / 16) + 1;
    expect(e.perGpu.kvCacheBytes).toBe((8 * (131072 / 16) + 40 * slidingBlocks) * 16 * perLayer);
    // Against a model whose 48 layers all hold the full context, 4.4x less; which is what vLLM reserves
    // when its hybrid KV cache manager is disabled.
    expect(e.kvCacheBytesPerToken * 131072).toBeGreaterThan(4.4 * e.perGpu.kvCacheBytes);
    expect(estimateMemory(gemma3, { maxModelLen: 131072, disableHybridKvCache: true }).perGpu.kvCacheBytes).toBe(e.kvCacheBytesPerToken * 131072);
  });

  test('Mistral with sliding_window on every layer (v0.1 sets 4096); short contexts are not capped', () => {
    const v01 = { ...mistral, sliding_window: 4096 };
    const long = estimateMemory(v01, { maxModelLen: 32768 });
    expect(long.perGpu.kvCacheBytes).toBe(32 * (Math.ceil((4095 + 8192) / 16) + 1) * 16 * long.kvCacheBytesPerToken / 32);
    expect(estimateMemory(v01, { maxModelLen: 2048 }).perGpu.kvCacheBytes).toBe(32 * (128 + 1) * 16 * (long.kvCacheBytesPerToken / 32));
  });

  test('Qwen2 slides only with use_sliding_window, from max_window_layers on; layer_types wins when present', () => {
    const qwen = fixture('qwen2.5-7b-instruct');
    expect(shapeFromHfConfig(qwen).slidingWindow).toBeNull();
    const on = shapeFromHfConfig({ ...qwen, use_sliding_window: true, sliding_window: 4096, max_window_layers: 20 });
    expect(on.layerAttention.filter((a) => a === 'sliding')).toHaveLength(8);
    // A Llama config with a model-wide window and no layer_types: every layer inherits it, as in vLLM.
    expect(shapeFromHfConfig({ ...llama3, sliding_window: 4096 }).layerAttention.every((a) => a === 'sliding')).toBe(true);
    const types = shapeFromHfConfig({ ...llama3, sliding_window: 1024, layer_types: Array.from({ length: 32 }, (_, i) => (i % 4 ? 'sliding_attention' : 'full_attention')) });
    expect(types.layerAttention.filter((a) => a === 'sliding')).toHaveLength(24);
  });

  test('head_dim differing from hidden/heads (Gemma 3: 256 vs 3840/16 = 240) sizes q/k/v and the cache', () => {
    const shape = shapeFromHfConfig(gemma3);
    expect([shape.headDim, shape.hiddenSize / shape.attentionHeads]).toEqual([256, 240]);
    expect(shape.tiedEmbeddings).toBe(true); // Gemma ties lm_head when the config is silent
    expect(estimateMemory(gemma3).kvCacheBytesPerToken).toBe(48 * 2 * 8 * 256 * 2);
  });
});

describe('vision-language models', () => {
  test('Qwen2.5-VL: the ViT and merger counted from vision_config, text numbers from text_config', () => {
    const shape = shapeFromHfConfig(qwenVl);
    expect(shape.vision).toMatchObject({ kind: 'Qwen2.5-VL ViT', prefix: 'visual' });
    // The text model alone is what llama.cpp reports for the GGUF of the language model: 3.09 B.
    expect((parameterCount(shape) - shape.vision!.parameters) / 1e9).toBeCloseTo(3.09, 2);
    expect(shape.tiedEmbeddings).toBe(true);
  });

  test('Qwen2-VL: the 675M ViT of its technical report (LayerNorms, fc1/fc2 of mlp_ratio x embed_dim, merger included)', () => {
    // Qwen2-VL-7B's vision_config as transformers serialises it (kept in a public training repo, stored
    // file id 5166420161 in the code index); the figure: Qwen2-VL report (arXiv:2409.12191), Table 1.
    const vision_config = { depth: 32, embed_dim: 1280, hidden_act: 'quick_gelu', hidden_size: 3584, in_channels: 3, in_chans: 3, mlp_ratio: 4, model_type: 'qwen2_vl', num_heads: 16, patch_size: 14, spatial_merge_size: 2, spatial_patch_size: 14, temporal_patch_size: 2 };
    const vl = shapeFromHfConfig({ ...fixture('qwen2.5-7b-instruct'), architectures: ['Qwen2VLForConditionalGeneration'], model_type: 'qwen2_vl', vision_config });
    expect(Math.abs(vl.vision!.parameters / 675e6 - 1)).toBeLessThan(0.002);
  });

  test('Gemma 3: SigLIP tower plus projector on the first pipeline stage only', () => {
    const one = estimateMemory(gemma3, { pp: 2 });
    expect(one.explanation[0]).toMatch(/stage 0/);
    const vision = shapeFromHfConfig(gemma3).vision!;
    expect(vision.parameters - vision.tower).toBe(1152 * 3840 + 1152);
  });
});

describe('shapes the estimator cannot account for are refused by name', () => {
  const refuses = (config: unknown, message: RegExp) => {
    expect(() => estimateMemory(config)).toThrow(EstimatorInputError);
    expect(() => estimateMemory(config)).toThrow(message);
  };

  test('an architecture it has not been taught', () => {
    refuses({ ...qwen3moe, architectures: ['Qwen3NextForCausalLM'] }, /architecture Qwen3NextForCausalLM is not one the memory estimator has been taught/);
    refuses({ ...llama3, architectures: undefined, model_type: undefined }, /names no architecture/);
  });

  test('a field its family does not use', () => {
    refuses({ ...llama3, num_local_experts: 8 }, /num_local_experts \(8\) describes a mixture-of-experts field/);
    refuses({ ...fixture('qwen2.5-7b-instruct'), kv_lora_rank: 512 }, /kv_lora_rank \(512\) describes latent attention/);
    refuses({ ...llama3, vision_config: { hidden_size: 1024 } }, /vision_config .* a vision tower this reader does not count/);
    refuses({ ...qwen3moe, shared_expert_intermediate_size: 4096 }, /shared_expert_intermediate_size \(4096\)/);
    refuses({ ...llama3, layer_types: Array(32).fill('linear_attention') }, /layer_types contains "linear_attention"/);
    refuses({ ...gemma3, vision_config: undefined }, /vision_config is missing/);
  });

  test('the refusal is a BAD_REQUEST DomainError, so API callers see its message, not an internal error', () => {
    try {
      shapeFromHfConfig({ ...llama3, architectures: ['MambaForCausalLM'] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DomainError);
      expect((e as DomainError).status).toBe(400);
    }
  });
});
