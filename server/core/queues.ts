import { Queue, Worker, type JobsOptions } from 'bullmq';
import { z } from 'zod';
import { env, type Env } from './env';
import { errorMessage, log } from './log';
import { consumeQueueMetrics } from './queue-metrics';
import { bullConnectionOptions } from './redis';

/** A repeatable job, upserted under its fixed id by every consumer of its queue: one schedule however many workers run. */
interface Schedule<P> {
  id: string;
  repeat: { every: number } | { pattern: string };
  payload: P;
}

/** What each queue carries. */
const payloads = {
  maintenance: z.object({ task: z.enum(['partitions', 'sessions', 'nodes', 'alerts', 'audit-checkpoint', 'ldap-sync', 'usage-rollup', 'retention', 'audit-upkeep', 'backup']) }),
  /** Reconcile one deployment or, without one, enqueue every deployment (the sweep). */
  deploy: z.object({ deploymentId: z.string().uuid().optional() }),
  /** Run one fine-tune or quantization job. The row holds status; the queue only carries work. */
  training: z.object({ jobId: z.string().uuid() }),
  /** Run one load test. */
  loadtest: z.object({ loadTestId: z.string().uuid() }),
  /** Parse, chunk and embed one knowledge-base document (server/knowledge/ingest.ts). */
  knowledge: z.object({ documentId: z.string().uuid() }),
};

export type QueueName = keyof typeof payloads;
export type QueuePayload<N extends QueueName> = z.infer<(typeof payloads)[N]>;

interface QueueDefinition<P> {
  payload: z.ZodType<P>;
  options: JobsOptions;
  concurrency: number;
  /**
   * The BullMQ job id of a payload: the database row id where a row exists, so enqueueing the same work
   * twice is one job. Derived here, never passed by producers. Undefined: BullMQ numbers the job.
   */
  jobId: (payload: P) => string | undefined;
  schedules?: (e: Env) => Schedule<P>[];
}

/** How often the deploy sweep enqueues every deployment (each under its own id). */
export const SWEEP_EVERY_MS = 3_000;

/**
 * The queue contract, imported by producers (web, CLI) and consumers (workers/): payloads, job options,
 * job ids and schedules side by side.
 */
export const queueDefinitions: { [N in QueueName]: QueueDefinition<QueuePayload<N>> } = {
  maintenance: {
    payload: payloads.maintenance,
    options: { removeOnComplete: 100, removeOnFail: 500, attempts: 3, backoff: { type: 'exponential', delay: 5_000 } },
    concurrency: 1,
    jobId: () => undefined,
    // The ids are those earlier releases upserted: a renamed one would leave the old schedule running beside it.
    schedules: (e) => [
      { id: 'partitions-daily', repeat: { pattern: '0 5 0 * * *' }, payload: { task: 'partitions' } },
      { id: 'sessions-hourly', repeat: { every: 3_600_000 }, payload: { task: 'sessions' } },
      { id: 'nodes-sweep', repeat: { every: 15_000 }, payload: { task: 'nodes' } },
      { id: 'alerts-evaluate', repeat: { every: 15_000 }, payload: { task: 'alerts' } },
      { id: 'audit-checkpoint', repeat: { every: e.ENCLAVE_AUDIT_CHECKPOINT_SECONDS * 1000 }, payload: { task: 'audit-checkpoint' } },
      // usage_daily rebuilt from request_logs: today's partial day, and any finished day not yet rolled up.
      { id: 'usage-rollup', repeat: { every: 600_000 }, payload: { task: 'usage-rollup' } },
      // Audit: months ahead created, months past retention archived then dropped, the last hour's /v1 calls per key written.
      { id: 'audit-upkeep', repeat: { every: 3_600_000 }, payload: { task: 'audit-upkeep' } },
      // Content past its level's retention deleted (never what is on legal hold); older content re-sealed under its owner's key.
      { id: 'retention-hourly', repeat: { every: 3_600_000 }, payload: { task: 'retention' } },
      // A consistent, encrypted backup at 01:30 every day, the oldest past ENCLAVE_BACKUP_KEEP removed (0: none).
      ...(e.ENCLAVE_BACKUP_KEEP > 0 ? [{ id: 'backup-daily', repeat: { pattern: '0 30 1 * * *' }, payload: { task: 'backup' as const } }] : []),
      // Directory accounts checked against LDAP (left, disabled, role changed): only where LDAP is configured.
      ...(e.ENCLAVE_LDAP_URL ? [{ id: 'ldap-sync', repeat: { every: e.ENCLAVE_LDAP_SYNC_MINUTES * 60_000 }, payload: { task: 'ldap-sync' as const } }] : []),
    ],
  },
  deploy: {
    payload: payloads.deploy,
    // Removed at once: a kept job would block the next enqueue under the same id. The sweep is the retry.
    options: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
    concurrency: 4,
    jobId: (p) => p.deploymentId,
    schedules: () => [{ id: 'deploy-sweep', repeat: { every: SWEEP_EVERY_MS }, payload: {} }],
  },
  training: {
    payload: payloads.training,
    options: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
    concurrency: 2,
    jobId: (p) => p.jobId,
  },
  loadtest: {
    payload: payloads.loadtest,
    // One at a time: a second load test would skew the first's timing.
    options: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
    concurrency: 1,
    jobId: (p) => p.loadTestId,
  },
  knowledge: {
    payload: payloads.knowledge,
    // The document row holds status and error; a failed ingestion is uploaded again or re-embedded, not retried blindly.
    options: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
    concurrency: 2,
    jobId: (p) => p.documentId,
  },
};

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

/** The payload as the contract reads it, or an error naming each field that is wrong (never its value). */
function parsePayload<N extends QueueName>(name: N, data: unknown): QueuePayload<N> {
  const parsed = queueDefinitions[name].payload.safeParse(data);
  if (parsed.success) return parsed.data;
  throw new Error(`${name} job payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`);
}

/** Validates the payload and adds it under the job id the contract derives from it. */
export async function enqueue<N extends QueueName>(name: N, payload: QueuePayload<N>) {
  const data = parsePayload(name, payload);
  const jobId = queueDefinitions[name].jobId(data);
  return (queue(name) as Queue).add(name, data, jobId ? { jobId } : undefined);
}

/** Removes the payload's job if it is still waiting (a running or finished one stays). */
export async function removeQueued<N extends QueueName>(name: N, payload: QueuePayload<N>): Promise<void> {
  const jobId = queueDefinitions[name].jobId(payload);
  if (jobId) await queue(name).remove(jobId);
}

export interface ConsumerOptions {
  /** Overrides a schedule's interval by its id (tests sweep faster). */
  every?: Record<string, number | undefined>;
}

/**
 * The one way to consume a queue: its own BullMQ connection (BullMQ blocks on it), the install's prefix,
 * the contract's concurrency, the payload parsed before the handler sees it, failures logged, the
 * queue's metrics recorded, and the queue's schedules upserted. The returned worker's close() waits for
 * running jobs to finish: the safe point for shutdown.
 */
export async function defineConsumer<N extends QueueName>(name: N, handler: (payload: QueuePayload<N>) => Promise<unknown>, opts: ConsumerOptions = {}): Promise<Worker<QueuePayload<N>>> {
  const d = queueDefinitions[name];
  const metrics = consumeQueueMetrics(name, () => queue(name));
  const worker = new Worker<QueuePayload<N>>(name, async (job) => metrics.time(() => handler(parsePayload(name, job.data))), {
    connection: bullConnectionOptions(),
    prefix: queuePrefix(),
    concurrency: d.concurrency,
    // A killed worker's active jobs go back to the queue once its lock lapses (see ENCLAVE_QUEUE_LOCK_MS);
    // one delivered again after that is failed, and the sweeps that own the work enqueue it afresh.
    lockDuration: env().ENCLAVE_QUEUE_LOCK_MS,
    stalledInterval: env().ENCLAVE_QUEUE_LOCK_MS,
    maxStalledCount: 1,
  });
  worker.on('failed', (job, err) => log.warn(`${name} job failed`, { job: job?.id, error: errorMessage(err) }));
  // Without a listener BullMQ prints connection errors to the console; here they are log lines.
  worker.on('error', (err) => log.warn(`${name} consumer error`, { error: errorMessage(err) }));
  worker.on('closed', () => metrics.release());
  for (const s of d.schedules?.(env()) ?? []) {
    const every = opts.every?.[s.id];
    await (queue(name) as Queue).upsertJobScheduler(s.id, every ? { every } : s.repeat, { name, data: s.payload });
  }
  return worker;
}

export async function closeQueues(): Promise<void> {
  await Promise.all([...queues.values()].map((q) => q.close()));
  queues.clear();
}
