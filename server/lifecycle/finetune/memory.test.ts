import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { GiB, shapeFromHfConfig } from '../../gpu/estimator';
import { estimateTrainingMemory, loraParameterCount } from './memory';

const llama3 = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../gpu/estimator/configs/meta-llama-3-8b.json'), 'utf8')) as Record<string, unknown>;
const llama2_7b = { architectures: ['LlamaForCausalLM'], hidden_size: 4096, intermediate_size: 11008, num_attention_heads: 32, num_hidden_layers: 32, vocab_size: 32000, torch_dtype: 'float16' };

it('counts LoRA parameters as PEFT prints them (print_trainable_parameters)', () => {
  // Llama-2-7B, r=8 on q_proj,v_proj: "trainable params: 4,194,304" (PEFT's README example).
  expect(loraParameterCount(shapeFromHfConfig(llama2_7b), 8, ['q_proj', 'v_proj'])).toBe(4_194_304);
  // Llama-3-8B, r=16 on q,k,v,o (GQA: k and v are 4096 -> 1024): "trainable params: 13,631,488".
  expect(loraParameterCount(shapeFromHfConfig(llama3), 16, ['q_proj', 'k_proj', 'v_proj', 'o_proj'])).toBe(13_631_488);
  // all-linear adds gate/up/down: 16 x (4096+14336) x 3 per layer more.
  expect(loraParameterCount(shapeFromHfConfig(llama3), 16, ['all-linear'])).toBe(13_631_488 + 16 * (4096 + 14336) * 3 * 32);
});

it('estimates a Llama-3-8B LoRA: bf16 weights, fp32 LoRA+Adam, activations and logits by batch x sequence', () => {
  const e = estimateTrainingMemory(llama3, { lora_r: 16, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], per_device_batch_size: 4, max_seq_length: 1024 });
  expect(e.parameters).toBe(8_030_261_248); // the model card's 8.03B
  expect(e.perGpu.weightsBytes).toBe(8_030_261_248 * 2);
  expect(e.perGpu.loraBytes).toBe(13_631_488 * 16);
  expect(e.perGpu.activationBytes).toBe(4 * 1024 * 4096 * 32 * 34); // 17 GiB
  expect(e.perGpu.logitsBytes).toBe(4 * 1024 * 128_256 * 8);
  expect(e.perGpuBytes / GiB).toBeCloseTo(14.96 + 0.2 + 17 + 3.91 + 1, 1);
  expect(e.explanation.at(-1)).toBe('total per GPU: 37.07 GiB');
  // Activations scale linearly with tokens; weights do not move.
  const doubled = estimateTrainingMemory(llama3, { lora_r: 16, target_modules: ['q_proj'], per_device_batch_size: 8, max_seq_length: 1024 });
  expect(doubled.perGpu.activationBytes).toBe(2 * e.perGpu.activationBytes);
  expect(doubled.perGpu.weightsBytes).toBe(e.perGpu.weightsBytes);
});

it('names the bad field of a config it cannot read', () => {
  expect(() => estimateTrainingMemory({ hidden_size: 64 }, { lora_r: 8, target_modules: ['q_proj'], per_device_batch_size: 1, max_seq_length: 64 })).toThrow(/num_attention_heads/);
});

const estimatorConfig = (name: string) => JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../gpu/estimator/configs', name), 'utf8')) as Record<string, unknown>;

it('counts a MoE model\'s LoRA per expert at the expert width, plus the shared expert, and dense layers at the dense width', () => {
  // Qwen1.5-MoE-A2.7B: 24 MoE layers of 60 experts x 1408 plus a shared expert of 5632 (hidden 2048).
  // gate, up and down each add r * (2048 + width) per MLP: 3 * (60 * 8 * 3456 + 8 * 7680) per layer.
  expect(loraParameterCount(shapeFromHfConfig(estimatorConfig('qwen1.5-moe-a2.7b.json')), 8, ['gate_proj', 'up_proj', 'down_proj'])).toBe(24 * 3 * (60 * 8 * 3456 + 8 * 7680));
  // DeepSeek-V2-Lite: layer 0 is a dense MLP of 10944 (first_k_dense_replace 1); 26 MoE layers of 64 experts
  // x 1408 and two shared experts as one MLP of 2 x 1408.
  expect(loraParameterCount(shapeFromHfConfig(estimatorConfig('deepseek-v2-lite-chat.json')), 8, ['gate_proj'])).toBe(8 * (2048 + 10944) + 26 * (64 * 8 * 3456 + 8 * (2048 + 2816)));
});
