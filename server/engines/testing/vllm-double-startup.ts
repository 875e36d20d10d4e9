/**
 * The start-up figures a TEST DOUBLE of vLLM prints, in vLLM 0.8's V1 wording (gpu_model_runner.py,
 * gpu_worker.py, kv_cache_utils.py), derived from its settings as vLLM would derive them: the weights
 * from the model's shape split over TP, the KV cache from what gpu_memory_utilization leaves, tokens in
 * blocks of 16, concurrency as tokens over max_model_len. Not vLLM: the non-torch, activation and CUDA
 * graph figures are constants close to what vLLM reports for an 8B model on an H100.
 */
import fs from 'node:fs';
import path from 'node:path';

const GiB = 1024 ** 3;

interface Shape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  vocab: number;
  tied: boolean;
  maxPositions: number;
}

/** Llama-3.1-8B's shape, for a model path without a config.json (a Hugging Face id). */
const LLAMA_31_8B: Shape = { hidden: 4096, layers: 32, heads: 32, kvHeads: 8, headDim: 128, intermediate: 14336, vocab: 128256, tied: false, maxPositions: 131072 };

function shapeOf(model: string): Shape {
  try {
    const c = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as Record<string, number | boolean | undefined>;
    const hidden = Number(c.hidden_size);
    const heads = Number(c.num_attention_heads);
    if (!hidden || !heads) return LLAMA_31_8B;
    return {
      hidden,
      layers: Number(c.num_hidden_layers) || 1,
      heads,
      kvHeads: Number(c.num_key_value_heads ?? heads),
      headDim: Number(c.head_dim ?? hidden / heads),
      intermediate: Number(c.intermediate_size) || 4 * hidden,
      vocab: Number(c.vocab_size) || 32000,
      tied: Boolean(c.tie_word_embeddings),
      maxPositions: Number(c.max_position_embeddings) || 2048,
    };
  } catch {
    return LLAMA_31_8B;
  }
}

export interface DoubleStartup {
  model: string;
  tp: number;
  pp: number;
  maxModelLen?: number;
  gpuMemoryUtilization: number;
  enforceEager: boolean;
  /** Total memory of one GPU, GiB (VLLM_DOUBLE_GPU_MEMORY_GIB; an H100 80GB reports 79.19). */
  gpuMemoryGiB: number;
}

/** The lines, in order: weights loaded, the memory profile, the KV cache, then the CUDA graphs. */
export function startupLines(s: DoubleStartup): { where: string; msg: string }[] {
  const shape = shapeOf(s.model);
  const kvWidth = shape.kvHeads * shape.headDim;
  const perLayer = 2 * shape.hidden * shape.heads * shape.headDim + 2 * shape.hidden * kvWidth + 3 * shape.hidden * shape.intermediate;
  const embeddings = shape.vocab * shape.hidden * (shape.tied ? 1 : 2);
  const weights = ((Math.ceil(shape.layers / s.pp) * perLayer + embeddings) * 2) / s.tp;
  const nonTorch = (0.35 + (s.tp * s.pp > 1 ? 0.25 : 0)) * GiB;
  const activation = 1.24 * GiB;
  const graphs = s.enforceEager ? 0 : 0.31 * GiB;
  const total = s.gpuMemoryGiB * GiB;
  const usable = total * s.gpuMemoryUtilization;
  const kv = usable - weights - nonTorch - activation;
  const perToken = 2 * Math.ceil(shape.layers / s.pp) * Math.max(1, Math.ceil(shape.kvHeads / s.tp)) * shape.headDim * 2;
  const tokens = Math.max(0, Math.floor(kv / perToken / 16) * 16);
  const maxModelLen = s.maxModelLen ?? shape.maxPositions;
  const g = (bytes: number) => (bytes / GiB).toFixed(2);
  const lines = [
    { where: 'gpu_model_runner.py:1291', msg: `Model loading took ${(weights / GiB).toFixed(4)} GiB and 5.338305 seconds` },
    { where: 'gpu_worker.py:227', msg: 'Memory profiling takes 11.85 seconds' },
    { where: 'gpu_worker.py:227', msg: `the current vLLM instance can use total_gpu_memory (${g(total)}GiB) x gpu_memory_utilization (${s.gpuMemoryUtilization.toFixed(2)}) = ${g(usable)}GiB` },
    {
      where: 'gpu_worker.py:227',
      msg: `model weights take ${g(weights)}GiB; non_torch_memory takes ${g(nonTorch)}GiB; PyTorch activation peak memory takes ${g(activation)}GiB; the rest of the memory reserved for KV Cache is ${g(kv)}GiB.`,
    },
    { where: 'kv_cache_utils.py:566', msg: `GPU KV cache size: ${tokens.toLocaleString('en-US')} tokens` },
    { where: 'kv_cache_utils.py:570', msg: `Maximum concurrency for ${maxModelLen.toLocaleString('en-US')} tokens per request: ${(tokens / maxModelLen).toFixed(2)}x` },
  ];
  if (!s.enforceEager) lines.push({ where: 'gpu_model_runner.py:1627', msg: `Graph capturing finished in 2 secs, took ${g(graphs)} GiB` });
  return lines;
}
