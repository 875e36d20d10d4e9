import client from 'prom-client';
import { E2E_BUCKETS, ITL_BUCKETS, TTFT_BUCKETS } from '../../core/metrics';

/**
 * vLLM's metric names and buckets, so dashboards and the gateway read this engine exactly as they read vLLM.
 * Its own registry: the engine is a separate process and exports nothing else.
 */
export function createEngineMetrics(modelName: string, load: () => { running: number; waiting: number }) {
  const registry = new client.Registry();
  const labelNames = ['model_name'] as const;
  const labels = { model_name: modelName };

  new client.Gauge({
    name: 'vllm:num_requests_running',
    help: 'Number of requests currently generating.',
    labelNames,
    registers: [registry],
    collect() {
      this.set(labels, load().running);
    },
  });
  new client.Gauge({
    name: 'vllm:num_requests_waiting',
    help: 'Number of requests waiting for a free sequence.',
    labelNames,
    registers: [registry],
    collect() {
      this.set(labels, load().waiting);
    },
  });
  const ttft = new client.Histogram({
    name: 'vllm:time_to_first_token_seconds',
    help: 'Time from arrival to the first generated token, in seconds.',
    labelNames,
    buckets: TTFT_BUCKETS,
    registers: [registry],
  });
  const itl = new client.Histogram({
    name: 'vllm:inter_token_latency_seconds',
    help: 'Time between consecutive generated tokens, in seconds.',
    labelNames,
    buckets: ITL_BUCKETS,
    registers: [registry],
  });
  const e2e = new client.Histogram({
    name: 'vllm:e2e_request_latency_seconds',
    help: 'Time from arrival to the end of generation, in seconds.',
    labelNames,
    buckets: E2E_BUCKETS,
    registers: [registry],
  });
  const promptTokens = new client.Counter({
    name: 'vllm:prompt_tokens_total',
    help: 'Prompt tokens processed.',
    labelNames,
    registers: [registry],
  });
  const generationTokens = new client.Counter({
    name: 'vllm:generation_tokens_total',
    help: 'Tokens generated.',
    labelNames,
    registers: [registry],
  });

  return {
    registry,
    firstToken: (seconds: number) => ttft.observe(labels, seconds),
    interToken: (seconds: number) => itl.observe(labels, seconds),
    finished: (seconds: number) => e2e.observe(labels, seconds),
    prompt: (tokens: number) => promptTokens.inc(labels, tokens),
    generated: (tokens: number) => generationTokens.inc(labels, tokens),
  };
}

export type EngineMetrics = ReturnType<typeof createEngineMetrics>;
