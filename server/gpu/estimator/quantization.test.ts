import { describe, expect, test } from 'vitest';
import { loadFixture } from './configs/published';
import { quantizationFromConfig } from './quantization';
import { estimateMemory, EstimatorInputError, parameterCount, shapeFromHfConfig } from '.';

type Config = Record<string, unknown>;
const fixture = (name: string) => loadFixture(name) as Config;
const llama3 = fixture('meta-llama-3-8b');
const weights = (config: unknown, spec = {}) => estimateMemory(config, spec).perGpu.weightsBytes;
const scheme = (q: Config) => quantizationFromConfig(q)!;
const withQuant = (q: Config) => ({ ...llama3, quantization_config: q });
// Layer 0's MLP of Llama-3-8B: gate and up (4096 -> 14336), down (14336 -> 4096).
const mlp0 = (bytes: (k: number, n: number) => number) => 2 * bytes(4096, 14336) + bytes(14336, 4096);
const MLP0_16BIT = 3 * 4096 * 14336 * 2;

describe('quantized checkpoints as vLLM holds them', () => {
  test('effective bits per parameter of every quantized fixture fall in the 4.3-9.8 range public vLLM logs show', () => {
    for (const [name, spec] of [['qwen2.5-7b-instruct-bnb-4bit', {}], ['qwen2.5-vl-3b-instruct-awq', {}], ['qwen2.5-32b-instruct-gptq-int4', {}], ['deepseek-r1-fp8', { tp: 8 }]] as const) {
      const config = fixture(name);
      const tp = 'tp' in spec ? spec.tp : 1;
      const bits = (8 * weights(config, spec) * tp) / parameterCount(shapeFromHfConfig(config));
      expect(bits, name).toBeGreaterThan(4.3);
      expect(bits, name).toBeLessThan(9.8);
    }
  });

  test('AWQ: 4-bit weights, an fp16 scale and a 4-bit zero point per 128 input rows; modules_to_not_convert stay 16-bit', () => {
    const awq = scheme({ quant_method: 'awq', bits: 4, group_size: 128, zero_point: true });
    expect(awq.matrixBytes(4096, 4096)).toBe(4096 * 4096 / 2 + 32 * 4096 * 2 + 32 * 4096 / 2);
    expect(scheme({ quant_method: 'awq', bits: 4, group_size: 128, zero_point: false }).matrixBytes(4096, 4096)).toBe(4096 * 4096 / 2 + 32 * 4096 * 2);
    const skipped = withQuant({ quant_method: 'awq', bits: 4, group_size: 128, modules_to_not_convert: ['model.layers.0.mlp'] });
    const all = withQuant({ quant_method: 'awq', bits: 4, group_size: 128 });
    expect(weights(skipped) - weights(all)).toBe(MLP0_16BIT - mlp0(awq.matrixBytes));
    // The Qwen2.5-VL AWQ checkpoint keeps its vision tower (visual.*) in bf16.
    expect(scheme({ quant_method: 'awq', bits: 4, modules_to_not_convert: ['visual'] }).quantizes('visual.blocks.0.attn.qkv')).toBe(false);
  });

  test('GPTQ as Marlin keeps it: zero points only when asymmetric, group index only with act-order, lm_head only when flagged', () => {
    const base = { quant_method: 'gptq', bits: 4, group_size: 128, sym: true };
    expect(scheme(base).matrixBytes(5120, 27648)).toBe(5120 * 27648 / 2 + 40 * 27648 * 2);
    expect(scheme({ ...base, desc_act: true }).matrixBytes(5120, 27648) - scheme(base).matrixBytes(5120, 27648)).toBe(2 * 5120 * 4);
    expect(scheme({ ...base, sym: false }).matrixBytes(5120, 27648) - scheme(base).matrixBytes(5120, 27648)).toBe(40 * 27648 / 2);
    const qwen32 = fixture('qwen2.5-32b-instruct-gptq-int4');
    const lmHead = { ...qwen32, quantization_config: { ...base, lm_head: true } };
    expect(weights(qwen32) - weights(lmHead)).toBe(152064 * 5120 * 2 - scheme(base).matrixBytes(5120, 152064));
    const excluded = withQuant({ ...base, dynamic: { '-:model\\.layers\\.0\\.mlp\\..*': {} } });
    expect(weights(excluded) - weights(withQuant(base))).toBe(MLP0_16BIT - mlp0(scheme(base).matrixBytes));
    expect(() => weights(withQuant({ ...base, dynamic: { '+:.*down_proj': { bits: 8 } } }))).toThrow(/dynamic override "\+:\.\*down_proj" changes bits/);
  });

  test('FP8: a byte per weight, a float32 scale per tensor or per 128x128 block; ignored_layers stay 16-bit', () => {
    expect(scheme({ quant_method: 'fp8', activation_scheme: 'dynamic' }).matrixBytes(7168, 2048)).toBe(7168 * 2048 + 4);
    expect(scheme({ quant_method: 'fp8', weight_block_size: [128, 128] }).matrixBytes(7168, 2048)).toBe(7168 * 2048 + 16 * 56 * 4);
    const ignored = withQuant({ quant_method: 'fp8', ignored_layers: ['model.layers.0.self_attn.q_proj'] });
    expect(weights(ignored) - weights(withQuant({ quant_method: 'fp8' }))).toBe(4096 * 4096 * 2 - (4096 * 4096 + 4));
    expect(() => weights(withQuant({ quant_method: 'fp8', weight_block_size: [128] }))).toThrow(/weight_block_size must be two positive integers/);
  });

  test('bitsandbytes: nf4 with one absmax per 64 weights (a byte with double quant, else a float32); 8-bit keeps a scale per row', () => {
    const k = 3584, n = 18944, blocks = (k * n) / 64;
    expect(scheme({ quant_method: 'bitsandbytes', load_in_4bit: true, bnb_4bit_use_double_quant: true }).matrixBytes(k, n)).toBe(k * n / 2 + blocks + Math.ceil(blocks / 256) * 4);
    expect(scheme({ quant_method: 'bitsandbytes', load_in_4bit: true }).matrixBytes(k, n)).toBe(k * n / 2 + blocks * 4);
    expect(scheme({ quant_method: 'bitsandbytes', load_in_8bit: true }).matrixBytes(k, n)).toBe(k * n + n * 4);
    expect(scheme({ quant_method: 'bitsandbytes', llm_int8_skip_modules: ['mlp'] }).quantizes('model.layers.3.mlp.down_proj')).toBe(false);
  });

  test('compressed-tensors: config groups by target, group/channel/tensor scales, ignore by name or re: pattern', () => {
    // A real W8A8 checkpoint: int8 per output channel, lm_head ignored (and never quantized by vLLM anyway).
    const w8a8 = fixture('qwen3-32b-w8a8');
    const e = estimateMemory(w8a8);
    const lmHeadAndEmbeddings = 2 * 151936 * 5120 * 2;
    const norms = (2 * 5120 + 2 * 128) * 2; // two RMSNorms and the q/k norms, bf16
    const linear = (k: number, n: number) => k * n + n * 4;
    const layer = linear(5120, 8192) + 2 * linear(5120, 1024) + linear(8192, 5120) + 2 * linear(5120, 25600) + linear(25600, 5120);
    expect(e.perGpu.weightsBytes).toBe(64 * (layer + norms) + lmHeadAndEmbeddings + 5120 * 2);
    // The structure llm-compressor writes for W4A16 (group 128, symmetric, lm_head ignored).
    const w4a16 = {
      quant_method: 'compressed-tensors',
      format: 'pack-quantized',
      config_groups: { group_0: { targets: ['Linear'], weights: { num_bits: 4, type: 'int', strategy: 'group', group_size: 128, symmetric: true }, input_activations: null } },
      ignore: ['lm_head'],
    };
    // Same bytes as a symmetric 4-bit GPTQ checkpoint: packed weights and bf16 group scales.
    expect(weights(withQuant(w4a16))).toBe(weights(withQuant({ quant_method: 'gptq', bits: 4, group_size: 128, sym: true })));
    const fp8Channel = { ...w4a16, format: 'float-quantized', config_groups: { group_0: { targets: ['Linear'], weights: { num_bits: 8, type: 'float', strategy: 'channel', symmetric: true } } } };
    expect(scheme(fp8Channel).matrixBytes(4096, 1024)).toBe(4096 * 1024 + 1024 * 4);
    const downKept = scheme({ ...w4a16, ignore: ['lm_head', 're:.*mlp\\.down_proj$'] });
    expect([downKept.quantizes('model.layers.7.mlp.down_proj'), downKept.quantizes('model.layers.7.mlp.up_proj')]).toEqual([false, true]);
    // Mixed precision: FP8 blocks for every Linear, W4A16 for the experts a "re:" target names.
    const mixed = scheme({
      quant_method: 'compressed-tensors',
      format: 'mixed-precision',
      config_groups: {
        group_0: { targets: ['Linear'], weights: { type: 'float', num_bits: 8, strategy: 'block', block_structure: [128, 128], symmetric: true } },
        group_1: { targets: ['Linear', 're:.*block_sparse_moe\\.experts.*'], weights: { num_bits: 4, type: 'int', strategy: 'group', group_size: 128, symmetric: true } },
      },
      ignore: ['lm_head'],
    });
    expect(mixed.matrixBytes(4096, 14336, 'model.layers.0.block_sparse_moe.experts.w1')).toBe(4096 * 14336 / 2 + 32 * 14336 * 2);
    expect(mixed.matrixBytes(4096, 4096, 'model.layers.0.self_attn.q_proj')).toBe(4096 * 4096 + 32 * 32 * 4);
    expect(() => scheme({ quant_method: 'compressed-tensors', ignore: [] })).toThrow(/config_groups is missing or empty/);
    expect(() => scheme({ ...w4a16, config_groups: { group_0: { targets: ['Linear'], weights: { num_bits: 4, strategy: 'bogus' } } } })).toThrow(/strategy "bogus" is not one the estimator knows/);
  });
});

describe('what cannot be sized is refused by name', () => {
  test('an unknown quant_method, or a quantization_config without one', () => {
    expect(() => weights(withQuant({ quant_method: 'mxfp4' }))).toThrow(EstimatorInputError);
    expect(() => weights(withQuant({ quant_method: 'mxfp4' }))).toThrow(/quant_method "mxfp4" is not one the memory estimator has been taught/);
    expect(() => weights(withQuant({ bits: 4 }))).toThrow(/quantization_config must be an object naming its quant_method/);
    expect(() => weights(withQuant({ quant_method: 'awq', bits: 3 }))).toThrow(/bits must be one of 4, 8, not 3/);
  });

  test('a --quantization naming another format than the checkpoint is refused in vLLM’s words; kernel aliases are accepted', () => {
    const r1 = fixture('deepseek-r1-fp8');
    expect(() => weights(r1, { tp: 8, quantization: 'awq' })).toThrow(/specified in the model config \(fp8\) does not match .* \(awq\)/);
    const awq = fixture('qwen2.5-vl-3b-instruct-awq');
    expect(weights(awq, { quantization: 'awq_marlin' })).toBe(weights(awq));
  });

  test('a method asked for on a 16-bit checkpoint: bitsandbytes in-flight (fp32 absmax), GGUF block types; compressed-tensors needs its config', () => {
    const linear = 8_030_261_248 - 2 * 128256 * 4096 - 65 * 4096; // Llama-3-8B's linear weights
    const bf16 = weights(llama3);
    expect(bf16 - weights(llama3, { quantization: 'bitsandbytes' })).toBe(linear * 2 - linear * (0.5 + 4 / 64));
    expect(weights(llama3, { quantization: 'q4_k' })).toBe(bf16 - linear * 2 + linear * (4.5 / 8));
    expect(() => weights(llama3, { quantization: 'compressed-tensors' })).toThrow(/needs the checkpoint’s own quantization_config/);
  });
});
