/** What the reconciler, the dashboards and the load balancer read from one replica's /metrics. */
export interface EngineLoad {
  running: number;
  waiting: number;
  /** 0..1; absent on engines that do not report it (llamacpp). */
  kvCacheUsage?: number;
  promptTokensTotal?: number;
  generationTokensTotal?: number;
  preemptionsTotal?: number;
}

/** Sums a metric's samples over all its label sets (one per engine core with data parallelism). */
function sumSamples(samples: Map<string, number[]>, name: string): number | undefined {
  const values = samples.get(name);
  return values?.length ? values.reduce((a, b) => a + b, 0) : undefined;
}

/**
 * Parses vLLM's Prometheus text. V1 renamed `gpu_cache_usage_perc` to `kv_cache_usage_perc`; both are
 * read, the newer preferred. Usage is averaged over engines (it is a fraction), counts are summed.
 */
export function parseVllmMetrics(text: string): EngineLoad {
  const samples = new Map<string, number[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('vllm:')) continue;
    // name{labels} value [timestamp]; label values may hold spaces, so split at the closing brace.
    const brace = line.indexOf('{');
    const nameEnd = brace === -1 ? line.indexOf(' ') : brace;
    if (nameEnd === -1) continue;
    const name = line.slice(0, nameEnd);
    const rest = brace === -1 ? line.slice(nameEnd) : line.slice(line.lastIndexOf('}') + 1);
    const value = Number(rest.trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) continue;
    let list = samples.get(name);
    if (!list) samples.set(name, (list = []));
    list.push(value);
  }
  const usage = samples.get('vllm:kv_cache_usage_perc') ?? samples.get('vllm:gpu_cache_usage_perc');
  const load: EngineLoad = {
    running: sumSamples(samples, 'vllm:num_requests_running') ?? 0,
    waiting: sumSamples(samples, 'vllm:num_requests_waiting') ?? 0,
  };
  if (usage?.length) load.kvCacheUsage = usage.reduce((a, b) => a + b, 0) / usage.length;
  const prompt = sumSamples(samples, 'vllm:prompt_tokens_total');
  if (prompt !== undefined) load.promptTokensTotal = prompt;
  const generated = sumSamples(samples, 'vllm:generation_tokens_total');
  if (generated !== undefined) load.generationTokensTotal = generated;
  const preemptions = sumSamples(samples, 'vllm:num_preemptions_total');
  if (preemptions !== undefined) load.preemptionsTotal = preemptions;
  return load;
}

/** GETs `${baseUrl}/metrics` and parses it; throws on a network error or a non-200 answer. */
export async function scrapeMetrics(baseUrl: string, signal: AbortSignal = AbortSignal.timeout(5_000)): Promise<EngineLoad> {
  const res = await fetch(`${baseUrl.replace(/\/+$/, '')}/metrics`, { signal });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`GET /metrics answered ${res.status}`);
  }
  return parseVllmMetrics(await res.text());
}
