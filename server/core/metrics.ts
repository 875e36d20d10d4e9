import cluster from 'node:cluster';
import client from 'prom-client';

let registry: client.Registry | undefined;

/** The process-wide Prometheus registry, with Node's default metrics, created on first use. */
export function metricsRegistry(): client.Registry {
  if (!registry) {
    registry = new client.Registry();
    client.collectDefaultMetrics({ register: registry });
    // A gateway worker (GATEWAY_WORKERS > 1) answers the primary's collection with this registry.
    // (Constructing one is what makes prom-client listen for the primary's requests in a worker.)
    if (cluster.isWorker) {
      new client.AggregatorRegistry();
      client.AggregatorRegistry.setRegistries([registry]);
    }
  }
  return registry;
}

/** The message a cluster worker sends its primary for the whole cluster's metrics, and the answer's type. */
export const CLUSTER_METRICS_REQUEST = 'enclave:cluster-metrics';
export const CLUSTER_METRICS_ANSWER = 'enclave:cluster-metrics-answer';
let nextRequest = 0;

/**
 * The text /metrics serves. In a gateway worker it is every worker's figures summed by the primary
 * (prom-client's AggregatorRegistry): a scrape lands on whichever worker the kernel picks, and one
 * worker's counters alone would jump up and down between scrapes.
 */
export function metricsText(): Promise<{ contentType: string; text: string }> {
  const own = metricsRegistry();
  if (!cluster.isWorker || !process.send) return own.metrics().then((text) => ({ contentType: own.contentType, text }));
  const id = `${process.pid}-${nextRequest++}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error('the gateway primary did not answer for the metrics within 5 s')), 5_000);
    const onMessage = (msg: { type?: string; id?: string; text?: string; error?: string }) => {
      if (msg?.type !== CLUSTER_METRICS_ANSWER || msg.id !== id) return;
      finish(msg.error ? new Error(msg.error) : undefined, msg.text);
    };
    const finish = (error?: Error, text?: string) => {
      clearTimeout(timer);
      process.off('message', onMessage);
      if (error) reject(error);
      else resolve({ contentType: own.contentType, text: text ?? '' });
    };
    process.on('message', onMessage);
    process.send!({ type: CLUSTER_METRICS_REQUEST, id });
  });
}

/** vLLM's latency buckets (seconds) for TTFT, so Enclave's histograms line up with an engine's. */
export const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
/** vLLM's buckets for end-to-end request latency (seconds). */
export const E2E_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];
/** vLLM's buckets for inter-token latency (seconds). */
export const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
/** vLLM uses the ITL buckets for time per output token too. */
export const TPOT_BUCKETS = ITL_BUCKETS;
/** Gateway overhead is sub-millisecond to a few ms. */
export const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
