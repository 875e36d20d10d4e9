import client from 'prom-client';
import { E2E_BUCKETS, ITL_BUCKETS, metricsRegistry, OVERHEAD_BUCKETS, TPOT_BUCKETS, TTFT_BUCKETS } from '../core/metrics';

type Histogram = client.Histogram<'model' | 'deployment' | 'status'>;

function histogram(name: string, help: string, buckets: number[]): Histogram {
  const registry = metricsRegistry();
  // Several gateways in one process (tests, `enclave start`) share one registry: register once.
  const existing = registry.getSingleMetric(name) as Histogram | undefined;
  return existing ?? new client.Histogram({ name, help, buckets, labelNames: ['model', 'deployment', 'status'], registers: [registry] });
}

/** The gateway's latency histograms; children are cached per label set so observing is a map lookup. */
export function createGatewayMetrics() {
  const ttft = histogram('enclave_gateway_ttft_seconds', 'Time from request to first token, through the gateway', TTFT_BUCKETS);
  const e2e = histogram('enclave_gateway_e2e_seconds', 'Whole request latency, through the gateway', E2E_BUCKETS);
  const overhead = histogram('enclave_gateway_overhead_seconds', 'Time the gateway itself spent on a request', OVERHEAD_BUCKETS);
  // vLLM's names for these: vllm:inter_token_latency_seconds and vllm:time_per_output_token_seconds.
  const itl = histogram('enclave_gateway_itl_seconds', 'Gap between streamed token chunks, through the gateway', ITL_BUCKETS);
  const tpot = histogram('enclave_gateway_tpot_seconds', 'Mean time per output chunk of a streamed request, through the gateway', TPOT_BUCKETS);
  // Response cache lookups per deployment id: hit, miss (answered live, then stored if complete) and
  // bypass (the deployment caches, this request may not: not deterministic, an experiment's, Redis away).
  const registry = metricsRegistry();
  const cacheLookups =
    (registry.getSingleMetric('enclave_gateway_cache_requests_total') as client.Counter<'deployment' | 'result'> | undefined) ??
    new client.Counter({
      name: 'enclave_gateway_cache_requests_total',
      help: 'Requests to deployments with a response cache, by result (hit, miss, bypass)',
      labelNames: ['deployment', 'result'],
      registers: [registry],
    });
  type Child = client.Histogram.Internal<string>;
  const children = new Map<string, [Child, Child, Child, Child, Child]>();

  return {
    cache(deployment: string, result: 'hit' | 'miss' | 'bypass') {
      cacheLookups.inc({ deployment, result });
    },
    observe(
      model: string,
      deployment: string,
      status: number,
      ttftMs: number | null,
      e2eMs: number,
      overheadMs: number,
      itlMs: readonly number[] | null = null,
      tpotMs: number | null = null,
    ) {
      const id = `${model}\u0000${deployment}\u0000${status}`;
      let c = children.get(id);
      if (!c) {
        const labels = { model, deployment, status: String(status) };
        c = [ttft.labels(labels), e2e.labels(labels), overhead.labels(labels), itl.labels(labels), tpot.labels(labels)];
        if (children.size < 10_000) children.set(id, c);
      }
      if (ttftMs !== null) c[0].observe(ttftMs / 1000);
      c[1].observe(e2eMs / 1000);
      c[2].observe(overheadMs / 1000);
      if (itlMs) for (let i = 0; i < itlMs.length; i++) c[3].observe(itlMs[i]! / 1000);
      if (tpotMs !== null) c[4].observe(tpotMs / 1000);
    },
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
