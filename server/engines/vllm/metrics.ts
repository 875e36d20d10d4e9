import { fetchMetricsText, meanSamples, prometheusSamples, sumSamples } from '../prometheus';
import type { EngineLoad } from '../types';

export type { EngineLoad };

/**
 * Parses vLLM's Prometheus text. V1 renamed `gpu_cache_usage_perc` to `kv_cache_usage_perc`; both are
 * read, the newer preferred. Usage is averaged over engines (it is a fraction), counts are summed.
 */
export function parseVllmMetrics(text: string): EngineLoad {
  const samples = prometheusSamples(text, 'vllm:');
  const usage = meanSamples(samples, 'vllm:kv_cache_usage_perc') ?? meanSamples(samples, 'vllm:gpu_cache_usage_perc');
  const load: EngineLoad = {
    running: sumSamples(samples, 'vllm:num_requests_running') ?? 0,
    waiting: sumSamples(samples, 'vllm:num_requests_waiting') ?? 0,
  };
  if (usage !== undefined) load.kvCacheUsage = usage;
  const prompt = sumSamples(samples, 'vllm:prompt_tokens_total');
  if (prompt !== undefined) load.promptTokensTotal = prompt;
  const generated = sumSamples(samples, 'vllm:generation_tokens_total');
  if (generated !== undefined) load.generationTokensTotal = generated;
  const preemptions = sumSamples(samples, 'vllm:num_preemptions_total');
  if (preemptions !== undefined) load.preemptionsTotal = preemptions;
  return load;
}

/** GETs `${baseUrl}/metrics` and parses it with vLLM's names; throws on a network error or a non-200 answer. */
export async function scrapeMetrics(baseUrl: string, signal?: AbortSignal): Promise<EngineLoad> {
  return parseVllmMetrics(await fetchMetricsText(baseUrl, signal));
}
