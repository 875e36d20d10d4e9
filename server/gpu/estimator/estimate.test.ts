import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { estimateMemory, EstimatorInputError, GiB, maxSequences } from '.';

const config = (name: string) => JSON.parse(fs.readFileSync(path.join(__dirname, 'configs', `${name}.json`), 'utf8'));
const llama3 = config('meta-llama-3-8b');
const qwen25 = config('qwen2.5-7b-instruct');
const mistral = config('mistral-7b-instruct-v0.3');
const mixtral = config('mixtral-8x7b-v0.1');
const weightsGiB = (c: unknown, spec = {}) => estimateMemory(c, spec).perGpu.weightsBytes / GiB;
// vLLM prints GiB (bytes / 2**30) under the label "GB" in "Loading model weights took X GB".
const withinPct = (actual: number, expected: number, pct: number) => expect(Math.abs(actual - expected) / expected).toBeLessThan(pct / 100);

describe('weights against published vLLM start-up logs', () => {
  test('Meta-Llama-3-8B, bfloat16, TP 1: "Loading model weights took 14.9595 GB" / "model weights take 14.96GiB"', () => {
    // vllm-project/vllm#12330 (A100 40GB, meta-llama/Meta-Llama-3-8B).
    expect(estimateMemory(llama3).parameters).toBe(8_030_261_248); // the model card's 8.03B
    withinPct(weightsGiB(llama3), 14.9595, 0.5);
  });

  test('Qwen2.5-7B-Instruct, bfloat16: "Loading model weights took 14.2409 GB"', () => {
    // vLLM 0.5.1 log with model='Qwen/Qwen2.5-7B-Instruct', dtype=torch.bfloat16, tensor_parallel_size=1 (a published Chinese deployment guide).
    expect(estimateMemory(qwen25).parameters).toBe(7_615_616_512); // the model card's 7.61B
    withinPct(weightsGiB(qwen25), 14.2409, 1);
  });

  test('Mistral-7B-Instruct-v0.3, float16: "Loading model weights took 13.5083 GB"', () => {
    // vllm-project/vllm#7514 (--model mistralai/Mistral-7B-Instruct-v0.3 --dtype float16).
    withinPct(weightsGiB(mistral, { dtype: 'float16' }), 13.5083, 0.5);
  });

  test('Mixtral-8x7B: every expert resident, 46.7B parameters; TP splits weights nearly evenly', () => {
    const e = estimateMemory(mixtral);
    expect(e.parameters! / 1e9).toBeCloseTo(46.70, 2);
    withinPct(weightsGiB(mixtral, { tp: 2 }), weightsGiB(mixtral) / 2, 0.1);
    withinPct(weightsGiB(mixtral, { tp: 8 }), weightsGiB(mixtral) / 8, 0.2);
  });
});

describe('KV cache and concurrency', () => {
  test('Llama-3-8B KV per token matches vLLM: 5691 blocks of 16 tokens = 11.12 GiB, "Maximum concurrency for 8192 tokens per request: 11.12x"', () => {
    // The same vllm-project/vllm#12330 log: "the rest of the memory reserved for KV Cache is 11.12GiB", "# GPU blocks: 5691".
    const e = estimateMemory(llama3, { maxModelLen: 8192 });
    expect(e.kvCacheBytesPerToken).toBe(2 * 32 * 8 * 128 * 2);
    expect((5691 * 16 * e.kvCacheBytesPerToken) / GiB).toBeCloseTo(11.12, 2);
    expect(e.perGpu.kvCacheBytes).toBe(8192 * e.kvCacheBytesPerToken);
    expect(maxSequences(11.12 * GiB, e.perGpu.kvCacheBytes)).toBe(11);
  });

  test('max_model_len rounds up to whole 16-token blocks; KV dtype fp8 halves it; PP splits the layers', () => {
    const perToken = estimateMemory(llama3).kvCacheBytesPerToken;
    expect(estimateMemory(llama3, { maxModelLen: 1000 }).perGpu.kvCacheBytes).toBe(1008 * perToken);
    expect(estimateMemory(llama3, { maxModelLen: 1000, kvCacheDtype: 'fp8' }).perGpu.kvCacheBytes).toBe((1008 * perToken) / 2);
    expect(estimateMemory(llama3, { pp: 2 }).kvCacheBytesPerToken).toBe(perToken / 2);
  });

  test('KV heads are replicated, not split further, when TP exceeds them (Qwen2.5-7B has 4)', () => {
    const perToken = (c: unknown, tp: number) => estimateMemory(c, { tp }).kvCacheBytesPerToken;
    expect(perToken(qwen25, 2)).toBe(perToken(qwen25, 1) / 2);
    expect(perToken(qwen25, 4)).toBe(perToken(qwen25, 1) / 4);
    // With 2 KV heads and TP 4, each rank keeps one whole KV head rather than half of one.
    const twoKvHeads = { ...qwen25, num_key_value_heads: 2 };
    expect(perToken(twoKvHeads, 4)).toBe(perToken(twoKvHeads, 2));
    expect(estimateMemory(twoKvHeads, { tp: 4 }).explanation[1]).toMatch(/replicated: fewer KV heads than TP ranks/);
  });

  test('budget, fit and concurrency on an 80 GiB GPU', () => {
    const e = estimateMemory(llama3, { maxModelLen: 8192, gpuMemoryBytes: 80 * GiB, gpuMemoryUtilization: 0.9 });
    const { weightsBytes, activationBytes, overheadBytes, kvCacheBytes } = e.perGpu;
    expect(e.budgetBytes).toBe(Math.floor(72 * GiB));
    expect(e.perGpuBytes).toBe(weightsBytes + activationBytes + overheadBytes + kvCacheBytes);
    expect(e.fits).toBe(true);
    expect(e.maxConcurrentSequences).toBe(Math.floor((72 * GiB - weightsBytes - activationBytes - overheadBytes) / kvCacheBytes));
    expect(e.maxConcurrentSequences).toBeGreaterThan(40);
    expect(e.explanation.join('\n')).toMatch(/sequence\(s\) of 8192 tokens at once/);
  });

  test('a model too big for the GPU does not fit and says by how much', () => {
    const e = estimateMemory(mixtral, { gpuMemoryBytes: 80 * GiB });
    expect(e.fits).toBe(false);
    expect(e.maxConcurrentSequences).toBe(0);
    expect(e.explanation.join('\n')).toMatch(/exceed it by [\d.]+ GiB/);
    expect(estimateMemory(mixtral, { tp: 2, gpuMemoryBytes: 80 * GiB }).fits).toBe(true);
  });

  test('without a GPU size there is no budget: no fit, no concurrency', () => {
    const e = estimateMemory(llama3);
    expect(e.budgetBytes).toBeUndefined();
    expect(e.fits).toBeUndefined();
    expect(e.maxConcurrentSequences).toBeNull();
    expect(e.maxModelLen).toBe(8192); // max_position_embeddings, as vLLM defaults
  });
});

describe('dtype and quantization', () => {
  test('float32 doubles the weights; auto keeps the checkpoint dtype', () => {
    withinPct(weightsGiB(llama3, { dtype: 'float32' }), 2 * weightsGiB(llama3), 0.01);
    expect(weightsGiB(llama3, { dtype: 'bfloat16' })).toBe(weightsGiB(llama3));
  });

  test('fp8 halves the linear layers only; AWQ 4-bit is about a quarter plus the 16-bit embeddings', () => {
    const bf16 = weightsGiB(llama3);
    const fp8 = weightsGiB(llama3, { quantization: 'fp8' });
    // Embeddings and lm_head (2 x 128256 x 4096 x 2 bytes ≈ 1.96 GiB) stay 16-bit.
    expect(fp8).toBeCloseTo((bf16 - 1.957) / 2 + 1.957, 1);
    const awq = weightsGiB(llama3, { quantization: 'awq' });
    expect(awq).toBeGreaterThan(5);
    expect(awq).toBeLessThan(5.9);
  });

  test('a pre-quantized checkpoint brings its quantization_config', () => {
    const awqConfig = { ...llama3, quantization_config: { quant_method: 'awq', bits: 4, group_size: 128 } };
    expect(weightsGiB(awqConfig)).toBeCloseTo(weightsGiB(llama3, { quantization: 'awq' }), 6);
  });
});

describe('parallelism checks in vLLM words, and bad input', () => {
  test('TP that does not divide the attention heads', () => {
    const e = estimateMemory(qwen25, { tp: 3, gpuMemoryBytes: 80 * GiB });
    expect(e.tpValid).toBe(false);
    expect(e.error).toBe('Total number of attention heads (28) must be divisible by tensor parallel size (3).');
    expect(e.fits).toBe(false);
    expect(estimateMemory(qwen25, { tp: 4 }).tpValid).toBe(true);
    expect(estimateMemory(llama3, { tp: 8 }).error).toBeUndefined();
    // 7 divides Qwen2.5-7B's 28 heads but not its MLP (18944): vLLM refuses that split too.
    const seven = estimateMemory(qwen25, { tp: 7 });
    expect(seven.tpValid).toBe(false);
    expect(seven.error).toBe('Intermediate size (18944) must be divisible by tensor parallel size (7): each rank takes an equal slice of the MLP.');
  });

  test('PP above the layer count', () => {
    const e = estimateMemory(llama3, { pp: 33 });
    expect(e.tpValid).toBe(true);
    expect(e.error).toMatch(/Pipeline parallel size \(33\) exceeds the number of hidden layers \(32\)/);
  });

  test('a config or spec that cannot be estimated is a clear error, not NaN', () => {
    expect(() => estimateMemory({ ...llama3, num_hidden_layers: undefined })).toThrow(EstimatorInputError);
    expect(() => estimateMemory({ ...llama3, num_hidden_layers: undefined })).toThrow(/num_hidden_layers must be a positive integer \(it is missing\)/);
    expect(() => estimateMemory({ ...llama3, hidden_size: '4096' })).toThrow(/hidden_size must be a positive integer, not "4096"/);
    expect(() => estimateMemory([])).toThrow(/config.json must be a JSON object/);
    expect(() => estimateMemory(llama3, { tp: 0 })).toThrow(/Invalid deployment spec: tp/);
    expect(() => estimateMemory(llama3, { gpuMemoryUtilization: 1.5 })).toThrow(/gpuMemoryUtilization/);
    expect(() => estimateMemory(llama3, { quantization: 'magic' })).toThrow(/Unknown quantization "magic"/);
  });

  test('every figure is a finite number', () => {
    for (const c of [llama3, qwen25, mistral, mixtral]) {
      const e = estimateMemory(c, { tp: 2, gpuMemoryBytes: 24 * GiB });
      for (const v of [...Object.values(e.perGpu), e.perGpuBytes, e.budgetBytes, e.maxConcurrentSequences]) expect(Number.isFinite(v)).toBe(true);
    }
  });
});
