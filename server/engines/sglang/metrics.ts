import { meanSamples, prometheusSamples } from '../prometheus';
import type { EngineLoad } from '../types';

/**
 * SGLang's metrics (`--enable-metrics`; docs/references/production_metrics.md) as Enclave's load:
 * num_running_reqs runs, num_queue_reqs waits, token_usage is the KV pool's fill (0..1). Newer versions
 * label samples with tp_rank; every rank sees the same batch, so counts take one rank's value rather
 * than a sum that would count each request TP times, and the fill is averaged.
 */
export function parseSglangMetrics(text: string): EngineLoad {
  const samples = prometheusSamples(text, 'sglang:');
  const first = (name: string) => samples.get(name)?.[0];
  const load: EngineLoad = {
    running: first('sglang:num_running_reqs') ?? 0,
    waiting: first('sglang:num_queue_reqs') ?? 0,
  };
  const usage = meanSamples(samples, 'sglang:token_usage');
  if (usage !== undefined) load.kvCacheUsage = usage;
  const prompt = first('sglang:prompt_tokens_total');
  if (prompt !== undefined) load.promptTokensTotal = prompt;
  const generated = first('sglang:generation_tokens_total');
  if (generated !== undefined) load.generationTokensTotal = generated;
  return load;
}
