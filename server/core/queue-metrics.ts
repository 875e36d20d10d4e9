import client from 'prom-client';
import { metricsRegistry } from './metrics';

const STATES = ['waiting', 'active', 'failed', 'delayed'] as const;
/** Jobs last from milliseconds (a reconcile) to hours (a load test, a GGUF quantization). */
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14_400];
/** A scrape never waits longer on Redis: the counts keep their previous values instead. */
const COUNT_TIMEOUT_MS = 2_000;

type CountSource = { getJobCounts(...types: string[]): Promise<Record<string, number>> };

/** Queues this process consumes, with how many consumers of each are open. */
const consumed = new Map<string, { source: () => CountSource; consumers: number }>();

async function countsWithin(source: CountSource, ms: number): Promise<Record<string, number> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms).unref()));
  try {
    return await Promise.race([source.getJobCounts(...STATES).catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

let metrics: { jobs: client.Gauge<'queue' | 'state'>; duration: client.Histogram<'queue' | 'outcome'> } | undefined;

function queueMetrics() {
  const registers = [metricsRegistry()];
  metrics ??= {
    jobs: new client.Gauge({
      name: 'enclave_queue_jobs',
      help: 'Jobs in each state of each queue this process consumes, read from Redis on every scrape',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        await Promise.all(
          [...consumed].map(async ([queue, { source }]) => {
            const counts = await countsWithin(source(), COUNT_TIMEOUT_MS);
            for (const state of STATES) if (counts) this.set({ queue, state }, counts[state] ?? 0);
          }),
        );
      },
    }),
    duration: new client.Histogram({
      name: 'enclave_queue_job_duration_seconds',
      help: 'Time a job of each queue took in this process, by outcome (completed or failed)',
      labelNames: ['queue', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
  };
  return metrics;
}

/**
 * The metrics of one consumer of `queue`: its jobs timed by outcome, and the queue's counts reported
 * while at least one consumer of it is open in this process. `source` opens the queue to count it.
 */
export function consumeQueueMetrics(queue: string, source: () => CountSource) {
  const { jobs, duration } = queueMetrics();
  const entry = consumed.get(queue) ?? { source, consumers: 0 };
  entry.consumers++;
  consumed.set(queue, entry);
  let released = false;
  return {
    async time<T>(run: () => Promise<T>): Promise<T> {
      const end = duration.startTimer({ queue });
      try {
        const result = await run();
        end({ outcome: 'completed' });
        return result;
      } catch (e) {
        end({ outcome: 'failed' });
        throw e;
      }
    },
    release() {
      if (released) return;
      released = true;
      if (--entry.consumers > 0) return;
      consumed.delete(queue);
      for (const state of STATES) jobs.remove({ queue, state });
    },
  };
}
