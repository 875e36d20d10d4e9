import { expect, test } from 'vitest';
import { deploymentSpecSchema } from './deployment-spec';
import { engineEstimateKnobs } from './estimate-spec';

const knobs = (spec: Record<string, unknown>) => engineEstimateKnobs(deploymentSpecSchema.parse(spec));

test("vLLM's knobs are the spec's own: nothing to add", () => {
  expect(knobs({ engine: 'vllm', maxModelLen: 8192 })).toEqual({});
});

test("TGI: --cuda-memory-fraction, --max-total-tokens, the warm-up prefill (max_input_tokens + 50) and --max-concurrent-requests", () => {
  expect(knobs({ engine: 'tgi', maxModelLen: 8192, gpuMemoryUtilization: 0.85 })).toEqual({ gpuMemoryUtilization: 0.85, maxModelLen: 8192, maxNumBatchedTokens: 8241, maxNumSeqs: 128 });
  expect(knobs({ engine: 'tgi', extraArgs: ['--max-batch-prefill-tokens', '2048', '--max-concurrent-requests=32'] })).toEqual({ gpuMemoryUtilization: 0.9, maxNumBatchedTokens: 2048, maxNumSeqs: 32 });
});

test('SGLang: --mem-fraction-static, --context-length, and --chunked-prefill-size / --max-running-requests when given', () => {
  expect(knobs({ engine: 'sglang', maxModelLen: 32768, gpuMemoryUtilization: 0.8 })).toEqual({ gpuMemoryUtilization: 0.8, maxModelLen: 32768 });
  expect(knobs({ engine: 'sglang', extraArgs: ['--chunked-prefill-size', '4096', '--max-running-requests', '64'] })).toEqual({ gpuMemoryUtilization: 0.9, maxNumBatchedTokens: 4096, maxNumSeqs: 64 });
  // A value that is not a whole number is the engine's to refuse at start; the estimate keeps its default.
  expect(knobs({ engine: 'sglang', extraArgs: ['--max-running-requests', 'many'] })).toEqual({ gpuMemoryUtilization: 0.9 });
});

test("placement's estimate follows the engine's knobs: a larger TGI warm-up prefill claims more per GPU", async () => {
  const { estimatedClaim } = await import('../gpu/placement/learned-claim');
  // Llama-3.1-8B's shape (meta-llama/Llama-3.1-8B-Instruct config.json).
  const config = { architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, vocab_size: 128256, max_position_embeddings: 131072, torch_dtype: 'bfloat16', tie_word_embeddings: false };
  const claim = (extraArgs: string[]) => estimatedClaim(config, deploymentSpecSchema.parse({ engine: 'tgi', maxModelLen: 8192, extraArgs }))(1, 1);
  const small = claim(['--max-batch-prefill-tokens', '1024']);
  const large = claim(['--max-batch-prefill-tokens', '32768']);
  expect(typeof small, JSON.stringify(small)).toBe('number');
  expect(large as number).toBeGreaterThan(small as number);
});
