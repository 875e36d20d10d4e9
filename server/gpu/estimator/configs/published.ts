import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { estimateMemory, type EstimateSpec } from '../estimate';
import { GiB } from '../constants';
import { shapeFromHfConfig } from '../read-config';
import { parameterCount } from '../weights';

/**
 * Figures published by vLLM start-up logs or by model authors, each against a real config.json in this
 * folder (SOURCES.md says where each config and figure comes from). The estimator's tests and
 * `npm run bench:estimator` both read this table, so the closing note and the tests cannot disagree.
 */
export interface PublishedFigure {
  fixture: string;
  model: string;
  spec: EstimateSpec;
  /** weights: GiB on one GPU as vLLM logs it; parameters: a count; vision: the vision tower's parameter count. */
  kind: 'weights' | 'parameters' | 'vision';
  value: number;
  /** The error allowed, in percent, and why that much. */
  tolerancePct: number;
  why: string;
  source: string;
}

const LOG_ROUNDING = 'vLLM prints 4 decimals; the rest is allocator padding and buffers vLLM counts with the weights';

export const PUBLISHED: PublishedFigure[] = [
  { fixture: 'meta-llama-3-8b', model: 'meta-llama/Meta-Llama-3-8B', spec: {}, kind: 'weights', value: 14.9595, tolerancePct: 0.5, why: LOG_ROUNDING, source: 'vllm-project/vllm#12330 "Loading model weights took 14.9595 GB"' },
  { fixture: 'meta-llama-3-8b', model: 'meta-llama/Meta-Llama-3-8B', spec: { tp: 2 }, kind: 'weights', value: 7.48, tolerancePct: 0.5, why: 'the log rounds to 0.01 GiB', source: 'vllm-project/vllm#10511 "model weights take 7.48GiB" (-tp 2)' },
  { fixture: 'qwen2.5-7b-instruct', model: 'Qwen/Qwen2.5-7B-Instruct', spec: {}, kind: 'weights', value: 14.2409, tolerancePct: 1, why: 'the log line is from a third-party guide (vLLM 0.5.1)', source: 'vLLM 0.5.1 log "Loading model weights took 14.2409 GB" (published deployment guide, kept from the first fixture set)' },
  { fixture: 'mistral-7b-instruct-v0.3', model: 'mistralai/Mistral-7B-Instruct-v0.3', spec: { dtype: 'float16' }, kind: 'weights', value: 13.5083, tolerancePct: 0.5, why: LOG_ROUNDING, source: 'vllm-project/vllm#7514 "Loading model weights took 13.5083 GB"' },
  { fixture: 'mixtral-8x7b-v0.1', model: 'mistralai/Mixtral-8x7B-v0.1', spec: {}, kind: 'parameters', value: 46.7e9, tolerancePct: 0.1, why: 'the authors round to 0.1B', source: 'Mistral AI, "Mixtral of experts": "46.7B total parameters"' },
  { fixture: 'qwen1.5-moe-a2.7b', model: 'Qwen/Qwen1.5-MoE-A2.7B-Chat', spec: { tp: 2, dtype: 'float16' }, kind: 'weights', value: 13.3677, tolerancePct: 1, why: `${LOG_ROUNDING}; TP 2 on V100s (float16)`, source: 'vllm-project/vllm#4369 "model weights took 13.3677 * 2 = 27 GB" (2 x V100)' },
  { fixture: 'qwen1.5-moe-a2.7b', model: 'Qwen/Qwen1.5-MoE-A2.7B', spec: {}, kind: 'parameters', value: 14.3e9, tolerancePct: 0.5, why: 'the authors round to 0.1B', source: 'Qwen blog "Qwen1.5-MoE": "14.3B parameters in total, 2.7B activated"' },
  { fixture: 'qwen3-30b-a3b', model: 'Qwen/Qwen3-30B-A3B', spec: {}, kind: 'parameters', value: 30.5e9, tolerancePct: 0.5, why: 'the model card rounds to 0.1B (llama.cpp prints 30.53 B, ollama/ollama#10458)', source: 'Qwen3-30B-A3B model card: "30.5B in total and 3.3B activated"' },
  { fixture: 'deepseek-v2-lite-chat', model: 'deepseek-ai/DeepSeek-V2-Lite', spec: {}, kind: 'weights', value: 29.301, tolerancePct: 0.5, why: LOG_ROUNDING, source: 'vllm-project/vllm#4650 "Loading model weights took 29.3010 GB" (DeepSeek-V2-Lite, TP 1)' },
  { fixture: 'deepseek-v2-lite-chat', model: 'deepseek-ai/DeepSeek-V2-Lite', spec: {}, kind: 'parameters', value: 15.7e9, tolerancePct: 0.5, why: 'the authors round to 0.1B', source: 'DeepSeek-V2 paper / DeepSeek-V2-Lite card: "15.7B total parameters, 2.4B activated"' },
  { fixture: 'deepseek-r1-fp8', model: 'deepseek-ai/DeepSeek-R1', spec: { tp: 8 }, kind: 'weights', value: 79.41, tolerancePct: 1, why: 'measured by vLLM’s Gaudi fork (HPU allocator), not CUDA; printed to 0.01 GiB', source: 'HabanaAI/vllm-fork#809 "Pre-loading model weights on hpu:0 took 79.41 GiB" (TP 8, FP8 block weights)' },
  { fixture: 'deepseek-r1-fp8', model: 'deepseek-ai/DeepSeek-R1', spec: {}, kind: 'parameters', value: 671e9, tolerancePct: 0.5, why: 'the authors round to 1B; the 14B multi-token-prediction layer (685B on the hub) is not loaded by vLLM for serving', source: 'DeepSeek-R1 model card: "671B total parameters, 37B activated"' },
  { fixture: 'gemma-3-12b-it', model: 'google/gemma-3-12b-it', spec: {}, kind: 'vision', value: 417e6, tolerancePct: 0.5, why: 'the report rounds to 1M', source: 'Gemma 3 technical report, Table 1: vision encoder 417M' },
  { fixture: 'qwen2.5-vl-3b-instruct', model: 'Qwen/Qwen2.5-VL-3B-Instruct', spec: {}, kind: 'parameters', value: 3.75e9, tolerancePct: 0.5, why: 'the hub rounds to 0.01B (llama.cpp counts the text model alone as 3.09 B, lmstudio-bug-tracker#585)', source: 'Qwen2.5-VL-3B-Instruct model card: "3.75B params"' },
  { fixture: 'qwen3-32b-w8a8', model: 'Qwen/Qwen3-32B (compressed-tensors W8A8)', spec: {}, kind: 'parameters', value: 32.8e9, tolerancePct: 0.5, why: 'the model card rounds to 0.1B', source: 'Qwen3-32B model card: "Number of Parameters: 32.8B"' },
  { fixture: 'qwen2.5-7b-instruct-bnb-4bit', model: 'unsloth/Qwen2.5-7B-Instruct-bnb-4bit', spec: {}, kind: 'weights', value: 5.2032, tolerancePct: 1.5, why: 'bitsandbytes keeps small quant-state tensors per matrix that are not modelled', source: 'vllm-project/vllm#13882 "Loading model weights took 5.2032 GB" (bitsandbytes, TP 1)' },
  { fixture: 'qwen2.5-vl-3b-instruct-awq', model: 'Qwen/Qwen2.5-VL-3B-Instruct-AWQ', spec: {}, kind: 'weights', value: 3.4e9 / 1024 ** 3, tolerancePct: 5, why: 'the figure is the checkpoint size on disk, "~3.4 GB", rounded to 0.1 GB', source: 'published note on Qwen2.5-VL-3B-Instruct-AWQ: "on-disk size is ~3.4 GB" (vision tower kept bf16 by modules_to_not_convert)' },
];

export function loadFixture(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), `${name}.json`), 'utf8'));
}

/** What the estimator says for a published figure, in the figure's unit (GiB, or a parameter count). */
export function estimatedFigure(figure: PublishedFigure): number {
  const config = loadFixture(figure.fixture);
  if (figure.kind === 'weights') return estimateMemory(config, figure.spec).perGpu.weightsBytes / GiB;
  const shape = shapeFromHfConfig(config);
  return figure.kind === 'vision' ? (shape.vision?.tower ?? 0) : parameterCount(shape);
}

export const errorPct = (estimated: number, published: number) => (100 * (estimated - published)) / published;
