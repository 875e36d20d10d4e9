import { meanSamples, prometheusSamples, sumSamples } from '../prometheus';
import type { EngineLoad } from '../types';

/**
 * TGI's router metrics (docs/source/reference/metrics.md) as Enclave's load: tgi_batch_current_size is
 * what runs, tgi_queue_size what waits. Token totals are the sums of its per-request histograms
 * (tgi_request_input_length, tgi_request_generated_tokens). TGI has no KV cache gauge as such: the
 * nearest, used for it, is tgi_batch_current_max_tokens (the tokens the running batch may reach) over
 * tgi_batch_total_tokens (the KV budget the warm-up found).
 */
export function parseTgiMetrics(text: string): EngineLoad {
  const samples = prometheusSamples(text, 'tgi_');
  const load: EngineLoad = {
    running: sumSamples(samples, 'tgi_batch_current_size') ?? 0,
    waiting: sumSamples(samples, 'tgi_queue_size') ?? 0,
  };
  const budget = meanSamples(samples, 'tgi_batch_total_tokens');
  const used = meanSamples(samples, 'tgi_batch_current_max_tokens');
  if (budget && used !== undefined) load.kvCacheUsage = Math.min(1, used / budget);
  const prompt = sumSamples(samples, 'tgi_request_input_length_sum');
  if (prompt !== undefined) load.promptTokensTotal = prompt;
  const generated = sumSamples(samples, 'tgi_request_generated_tokens_sum');
  if (generated !== undefined) load.generationTokensTotal = generated;
  return load;
}
