import { Queue, type JobsOptions } from 'bullmq';
import { z } from 'zod';
import { env } from './env';
import { bullConnectionOptions } from './redis';

/**
 * The queue contract, imported by producers (web, CLI) and consumers (jobs/): names, payload schemas
 * and job options side by side. The BullMQ job id is the database row id where a row exists, so
 * enqueueing the same work twice is harmless.
 */
export const queueDefinitions = {
  maintenance: {
    payload: z.object({ task: z.enum(['partitions', 'sessions', 'nodes', 'alerts']) }),
    options: { removeOnComplete: 100, removeOnFail: 500, attempts: 3, backoff: { type: 'exponential', delay: 5_000 } } satisfies JobsOptions,
    concurrency: 1,
  },
  /** Reconcile one deployment (job id = deployment id) or, without one, enqueue every deployment (the sweep). */
  deploy: {
    payload: z.object({ deploymentId: z.string().uuid().optional() }),
    // Removed at once: a kept job would block the next enqueue under the same id. The sweep is the retry.
    options: { removeOnComplete: true, removeOnFail: true, attempts: 1 } satisfies JobsOptions,
    concurrency: 4,
  },
  /** Run one fine-tune or quantization job (job id = jobs row id). The row holds status; the queue only carries work. */
  training: {
    payload: z.object({ jobId: z.string().uuid() }),
    options: { removeOnComplete: true, removeOnFail: true, attempts: 1 } satisfies JobsOptions,
    concurrency: 2,
  },
  /** Run one load test (job id = load_tests row id). */
  loadtest: {
    payload: z.object({ loadTestId: z.string().uuid() }),
    options: { removeOnComplete: true, removeOnFail: true, attempts: 1 } satisfies JobsOptions,
    concurrency: 1,
  },
} as const;

export type QueueName = keyof typeof queueDefinitions;
export type QueuePayload<N extends QueueName> = z.infer<(typeof queueDefinitions)[N]['payload']>;

export function queuePrefix(): string {
  return `${env().REDIS_PREFIX}:bull`;
}

const queues = new Map<QueueName, Queue>();

export function queue<N extends QueueName>(name: N): Queue<QueuePayload<N>> {
  let q = queues.get(name);
  if (!q) {
    q = new Queue(name, { connection: bullConnectionOptions(), prefix: queuePrefix(), defaultJobOptions: queueDefinitions[name].options });
    queues.set(name, q);
  }
  return q as Queue<QueuePayload<N>>;
}

export async function enqueue<N extends QueueName>(name: N, payload: QueuePayload<N>, jobId?: string) {
  const data = queueDefinitions[name].payload.parse(payload) as QueuePayload<N>;
  return (queue(name) as Queue).add(name, data, jobId ? { jobId } : undefined);
}

export async function closeQueues(): Promise<void> {
  await Promise.all([...queues.values()].map((q) => q.close()));
  queues.clear();
}
