import { z } from 'zod';

/**
 * What vLLM measured while starting, read from its own start-up log: the figures it printed between
 * loading the weights and serving. Every field is null when the log does not say it; a log of another
 * version, an engine that died half-way or plain noise gives nulls, never an exception.
 *
 * Sizes are bytes. vLLM's "GB" in "Loading model weights took 14.9888 GB" is memory_allocated / 2**30,
 * so GB and GiB are read alike.
 */
export const startupMeasurementSchema = z
  .object({
    /** 'v0' or 'v1': which engine's wording the log uses (null when nothing tells). */
    wording: z.enum(['v0', 'v1']).nullable(),
    version: z.string().max(100).nullable(),
    weightsBytes: z.number().nonnegative().nullable(),
    nonTorchBytes: z.number().nonnegative().nullable(),
    activationBytes: z.number().nonnegative().nullable(),
    cudaGraphBytes: z.number().nonnegative().nullable(),
    /** The KV cache pool vLLM allocated (per GPU); negative when the rest was below zero (a failed start). */
    kvCacheBytes: z.number().nullable(),
    kvCacheTokens: z.number().int().nonnegative().nullable(),
    gpuBlocks: z.number().int().nonnegative().nullable(),
    /** "Maximum concurrency for N tokens per request: Xx": X, and N. */
    maxConcurrency: z.number().nonnegative().nullable(),
    concurrencyTokens: z.number().int().positive().nullable(),
    totalGpuMemoryBytes: z.number().positive().nullable(),
    gpuMemoryUtilization: z.number().positive().max(1).nullable(),
  })
  .strict();
export type StartupMeasurement = z.infer<typeof startupMeasurementSchema>;

const GiB = 1024 ** 3;
const UNIT: Record<string, number> = { gib: GiB, gb: GiB, mib: 1024 ** 2, mb: 1024 ** 2 };
const SIZE = String.raw`(-?[\d.]+)\s*(GiB|GB|MiB|MB)`;

const size = (value: string, unit: string) => Number(value) * UNIT[unit.toLowerCase()]!;
const count = (value: string) => Number(value.replaceAll(',', ''));

type Field = Exclude<keyof StartupMeasurement, 'wording' | 'version'>;
/** How repeated lines (one per TP rank) combine: the busiest GPU for what is spent, the smallest pool for the KV cache (vLLM takes the minimum across workers). */
const COMBINE: Record<Field, 'max' | 'min' | 'first'> = {
  weightsBytes: 'max',
  nonTorchBytes: 'max',
  activationBytes: 'max',
  cudaGraphBytes: 'max',
  kvCacheBytes: 'min',
  kvCacheTokens: 'min',
  gpuBlocks: 'min',
  maxConcurrency: 'min',
  concurrencyTokens: 'first',
  totalGpuMemoryBytes: 'first',
  gpuMemoryUtilization: 'first',
};

interface Rule {
  pattern: RegExp;
  read(m: RegExpMatchArray): Partial<Record<Field | 'torchPeakBytes', number>>;
}

const RULES: Rule[] = [
  // V0 and early V1 (gpu_model_runner): "Loading model weights took 14.9888 GB".
  { pattern: new RegExp(String.raw`Loading model weights took ${SIZE}`), read: (m) => ({ weightsBytes: size(m[1]!, m[2]!) }) },
  // 0.7+ V0 and V1: "Model loading took 15.0 GiB and 3.2 seconds", later "took 12.66 GiB memory and 31.6 seconds".
  // ("Loading weights took 4.60 seconds" is the loader's time, not memory: no unit of size, no match.)
  { pattern: new RegExp(String.raw`Model loading took ${SIZE}`), read: (m) => ({ weightsBytes: size(m[1]!, m[2]!) }) },
  // The memory profile, 0.6.6+ (V0 worker.py and V1 gpu_worker.py until 0.10): one line, "; "-separated.
  { pattern: new RegExp(String.raw`model weights take\s+${SIZE}`), read: (m) => ({ weightsBytes: size(m[1]!, m[2]!) }) },
  { pattern: new RegExp(String.raw`non_torch_memory(?:\s+takes|=|\s+)\s*${SIZE}`), read: (m) => ({ nonTorchBytes: size(m[1]!, m[2]!) }) },
  { pattern: new RegExp(String.raw`PyTorch activation peak memory(?:\s+takes)?\s+${SIZE}`), read: (m) => ({ activationBytes: size(m[1]!, m[2]!) }) },
  { pattern: new RegExp(String.raw`the rest of the memory reserved for KV Cache is\s+${SIZE}`), read: (m) => ({ kvCacheBytes: size(m[1]!, m[2]!) }) },
  // 0.6.4-0.6.5: "Memory profiling results: ... peak_torch_memory=17.06GiB ... kv_cache_size=3.81GiB", or one figure a line.
  { pattern: new RegExp(String.raw`peak_torch_memory=${SIZE}`), read: (m) => ({ torchPeakBytes: size(m[1]!, m[2]!) }) },
  { pattern: new RegExp(String.raw`(?:kv_cache_size=|available_kv_cache_memory\s+)${SIZE}`), read: (m) => ({ kvCacheBytes: size(m[1]!, m[2]!) }) },
  { pattern: new RegExp(String.raw`total_gpu_memory(?:=|\s+\(|\s+)${SIZE}`), read: (m) => ({ totalGpuMemoryBytes: size(m[1]!, m[2]!) }) },
  { pattern: /gpu_memory_utilization(?:=|\s+\(|\s+)(0?\.\d+|1(?:\.0+)?)\b/, read: (m) => ({ gpuMemoryUtilization: Number(m[1]) }) },
  // V1 0.10+: "Available KV cache memory: 6.51 GiB" (vllm-omni adds "(process-scoped)").
  { pattern: new RegExp(String.raw`Available KV cache memory:\s*${SIZE}`), read: (m) => ({ kvCacheBytes: size(m[1]!, m[2]!) }) },
  // V0 "# GPU blocks: 27910, # CPU blocks: 2048", 0.7.3+ "# cuda blocks: 7191" / "# CUDA blocks: 5517", early V1 "# GPU blocks: 1381".
  { pattern: /(?:#\s*)?(?:GPU|cuda|CUDA) blocks:\s*([\d,]+)/, read: (m) => ({ gpuBlocks: count(m[1]!) }) },
  { pattern: /GPU KV cache size:\s*([\d,]+)\s*tokens/, read: (m) => ({ kvCacheTokens: count(m[1]!) }) },
  {
    pattern: /Maximum concurrency for ([\d,]+) tokens per request:\s*([\d.,]+)x/,
    read: (m) => ({ concurrencyTokens: count(m[1]!), maxConcurrency: count(m[2]!) }),
  },
  // "Graph capturing finished in 5 secs, took 0.45 GiB" (V0 0.6.x+ and V1); the oldest form gives no size.
  { pattern: new RegExp(String.raw`Graph capturing finished in \d+ secs?, took ${SIZE}`), read: (m) => ({ cudaGraphBytes: size(m[1]!, m[2]!) }) },
];

const V1_MARKS = /Initializing a V1 LLM engine|gpu_model_runner\.py|gpu_worker\.py|kv_cache_utils\.py|EngineCore|VLLM_USE_V1=1|Worker_TP\d/;
const V0_MARKS = /Initializing a V0 LLM engine|\bmodel_runner\.py|\bworker\.py|executor(?:_base)?\.py|VllmWorkerProcess|Memory profiling results/;
const VERSION = /(?:vLLM API server version|LLM engine \(v|█\s+version)\s*v?(\d+\.\d+\.\d+[\w.+-]*)/;
// Colour codes and the box drawing `kubectl logs` and terminals wrap lines in.
const NOISE = /\x1b\[[0-9;]*m|[│┃]/g;

/** Reads vLLM's start-up figures from its log (whole or a tail); fields it does not find stay null. */
export function parseVllmStartupLog(log: string): StartupMeasurement {
  const found = new Map<Field | 'torchPeakBytes', number[]>();
  let version: string | null = null;
  let v1 = false;
  let v0 = false;
  for (const raw of typeof log === 'string' ? log.split(/\r?\n|\r/) : []) {
    const line = raw.replace(NOISE, '');
    if (!line.trim()) continue;
    version ??= VERSION.exec(line)?.[1] ?? null;
    v1 ||= V1_MARKS.test(line);
    v0 ||= V0_MARKS.test(line);
    for (const rule of RULES) {
      const m = line.match(rule.pattern);
      if (!m) continue;
      for (const [key, value] of Object.entries(rule.read(m)) as [Field | 'torchPeakBytes', number][]) {
        if (Number.isFinite(value)) found.set(key, [...(found.get(key) ?? []), value]);
      }
    }
  }
  const pick = (field: Field): number | null => {
    const values = found.get(field);
    if (!values?.length) return null;
    const how = COMBINE[field];
    return how === 'max' ? Math.max(...values) : how === 'min' ? Math.min(...values) : values[0]!;
  };
  const out: StartupMeasurement = {
    wording: v1 ? 'v1' : v0 ? 'v0' : null,
    version,
    weightsBytes: pick('weightsBytes'),
    nonTorchBytes: pick('nonTorchBytes'),
    activationBytes: pick('activationBytes'),
    cudaGraphBytes: pick('cudaGraphBytes'),
    kvCacheBytes: pick('kvCacheBytes'),
    kvCacheTokens: pick('kvCacheTokens'),
    gpuBlocks: pick('gpuBlocks'),
    maxConcurrency: pick('maxConcurrency'),
    concurrencyTokens: pick('concurrencyTokens'),
    totalGpuMemoryBytes: pick('totalGpuMemoryBytes'),
    gpuMemoryUtilization: pick('gpuMemoryUtilization'),
  };
  // 0.6.4 printed the torch peak including the weights; the activation peak is the difference.
  const torchPeak = found.get('torchPeakBytes');
  if (out.activationBytes === null && torchPeak?.length && out.weightsBytes !== null) out.activationBytes = Math.max(0, Math.max(...torchPeak) - out.weightsBytes);
  return out;
}

/** True when the log gave at least one figure worth storing. */
export function hasMeasurement(m: StartupMeasurement): boolean {
  return m.weightsBytes !== null || m.kvCacheBytes !== null || m.kvCacheTokens !== null || m.gpuBlocks !== null || m.maxConcurrency !== null;
}
