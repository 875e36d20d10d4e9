import type { StartupMeasurement } from '../vllm/startup-log';

/**
 * What SGLang measured while starting, from its own log lines (fixtures/SOURCES.md), in the shape vLLM's
 * figures are stored in: the weights ("Load weight end. ... mem usage=X GB"), the KV pool ("KV Cache is
 * allocated. #tokens: N, K size: A GB, V size: B GB") and the CUDA graphs ("Capture cuda graph end. ...
 * mem usage=X GB"). SGLang's GB is bytes / 2**30. What SGLang does not print (activation peak,
 * non-torch memory, blocks, concurrency) stays null. One line per TP rank: the busiest rank for what
 * is spent, the smallest pool for the cache.
 */
const GiB = 1024 ** 3;
const WEIGHTS = /Load weight end\.(?: elapsed=[\d.]+ s,)? type=\S+, dtype=\S+, avail mem=[\d.]+ GB, mem usage=([\d.]+) GB/;
const KV = /KV Cache is allocated\.(?: dtype: \S+,)? #tokens: (\d+), K size: ([\d.]+) GB, V size: ([\d.]+) GB/;
const GRAPHS = /Capture cuda graph end\..*?mem usage=([\d.]+) GB/;
const STATIC_SHARE = /mem_fraction_static=(0?\.\d+|1(?:\.0+)?)\b/;

export function parseSglangStartupLog(log: string): StartupMeasurement {
  const weights: number[] = [];
  const kvBytes: number[] = [];
  const kvTokens: number[] = [];
  const graphs: number[] = [];
  let share: number | null = null;
  for (const line of log.split(/\r?\n|\r/)) {
    const w = WEIGHTS.exec(line);
    if (w) weights.push(Number(w[1]) * GiB);
    const kv = KV.exec(line);
    if (kv) kvTokens.push(Number(kv[1])), kvBytes.push((Number(kv[2]) + Number(kv[3])) * GiB);
    const g = GRAPHS.exec(line);
    if (g) graphs.push(Number(g[1]) * GiB);
    share ??= STATIC_SHARE.exec(line) ? Number(STATIC_SHARE.exec(line)![1]) : null;
  }
  const max = (v: number[]) => (v.length ? Math.max(...v) : null);
  const min = (v: number[]) => (v.length ? Math.min(...v) : null);
  return {
    wording: null,
    version: null,
    weightsBytes: max(weights),
    nonTorchBytes: null,
    activationBytes: null,
    cudaGraphBytes: max(graphs),
    kvCacheBytes: min(kvBytes),
    kvCacheTokens: min(kvTokens),
    gpuBlocks: null,
    maxConcurrency: null,
    concurrencyTokens: null,
    totalGpuMemoryBytes: null,
    gpuMemoryUtilization: share,
  };
}
