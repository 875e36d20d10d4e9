import client from 'prom-client';
import { E2E_BUCKETS, metricsRegistry, OVERHEAD_BUCKETS, TTFT_BUCKETS } from '../metrics';

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
  const children = new Map<string, [client.Histogram.Internal<string>, client.Histogram.Internal<string>, client.Histogram.Internal<string>]>();

  return {
    observe(model: string, deployment: string, status: number, ttftMs: number | null, e2eMs: number, overheadMs: number) {
      const id = `${model}\u0000${deployment}\u0000${status}`;
      let c = children.get(id);
      if (!c) {
        const labels = { model, deployment, status: String(status) };
        c = [ttft.labels(labels), e2e.labels(labels), overhead.labels(labels)];
        if (children.size < 10_000) children.set(id, c);
      }
      if (ttftMs !== null) c[0].observe(ttftMs / 1000);
      c[1].observe(e2eMs / 1000);
      c[2].observe(overheadMs / 1000);
    },
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
