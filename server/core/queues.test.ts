import { randomUUID } from 'node:crypto';
import type { Worker } from 'bullmq';
import { afterAll, afterEach, expect, it } from 'vitest';
import { testRedisPrefix } from '../testing/database';
import { until } from '../testing/until';
import { metricsRegistry } from './metrics';
import { closeQueues, defineConsumer, enqueue, queue, removeQueued, type QueueName } from './queues';

// Real Redis under a prefix of this file's own; the consumers' handlers are this test's.
process.env.REDIS_PREFIX = testRedisPrefix('queues');
const open: Worker[] = [];
const used = new Set<QueueName>();
const consume: typeof defineConsumer = async (name, handler, opts) => {
  used.add(name);
  const worker = await defineConsumer(name, handler, opts);
  open.push(worker);
  return worker;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
  for (const name of used) await queue(name).obliterate({ force: true });
  used.clear();
});
afterAll(() => closeQueues());

/** One sample of the registry's text, as /metrics serves it. */
async function sample(metric: string, labels: string): Promise<number | undefined> {
  const line = (await metricsRegistry().metrics()).split('\n').find((l) => l.startsWith(`${metric}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

it('derives the job id from the payload: the same row enqueued twice is one job, under the row id', async () => {
  used.add('training');
  const id = randomUUID();
  await enqueue('training', { jobId: id });
  await enqueue('training', { jobId: id });
  expect((await queue('training').getJob(id))?.data).toEqual({ jobId: id });
  expect(await queue('training').getJobCounts('waiting')).toEqual({ waiting: 1 });
  await removeQueued('training', { jobId: id });
  expect(await queue('training').getJob(id)).toBeUndefined();
});

it('refuses a payload the contract does not allow, naming the field, and queues nothing', async () => {
  used.add('loadtest');
  await expect(enqueue('loadtest', { loadTestId: 'not-a-uuid' })).rejects.toThrow(/loadTestId/);
  await expect(enqueue('loadtest', {} as never)).rejects.toThrow(/loadTestId/);
  expect(await queue('loadtest').count()).toBe(0);
});

it('a consumer gets parsed payloads at the contract concurrency; its queue counts and job durations are on the registry', async () => {
  const seen: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const broken = randomUUID();
  await consume('loadtest', async ({ loadTestId }) => {
    seen.push(loadTestId);
    await gate;
    if (loadTestId === broken) throw new Error('this run breaks');
  });
  const ids = [broken, randomUUID(), randomUUID()];
  for (const loadTestId of ids) await enqueue('loadtest', { loadTestId });
  // One load test at a time: one active, two waiting, as read from Redis at the scrape.
  await until('the first job active', async () => (await sample('enclave_queue_jobs', 'queue="loadtest",state="active"')) === 1);
  expect(await sample('enclave_queue_jobs', 'queue="loadtest",state="waiting"')).toBe(2);
  expect(seen).toEqual([broken]);
  release();
  await until('every job done', async () => seen.length === 3 && (await queue('loadtest').count()) === 0 && (await sample('enclave_queue_jobs', 'queue="loadtest",state="active"')) === 0);
  expect(seen.sort()).toEqual([...ids].sort());
  await until('durations recorded', async () => (await sample('enclave_queue_job_duration_seconds_count', 'queue="loadtest",outcome="completed"')) === 2);
  expect(await sample('enclave_queue_job_duration_seconds_count', 'queue="loadtest",outcome="failed"')).toBe(1);

  // A job that breaks the contract (written by something else than enqueue) fails before the handler runs.
  await queue('loadtest').add('loadtest', { loadTestId: 42 } as never);
  await until('the bad job failed', async () => (await sample('enclave_queue_job_duration_seconds_count', 'queue="loadtest",outcome="failed"')) === 2);
  expect(seen).toHaveLength(3);
});

it('a closed consumer leaves no queue counts behind on the registry', async () => {
  const worker = await consume('training', async () => {});
  expect(await sample('enclave_queue_jobs', 'queue="training",state="waiting"')).toBe(0);
  await worker.close();
  expect(await sample('enclave_queue_jobs', 'queue="training",state="waiting"')).toBeUndefined();
});

it('upserts the queue schedules under their fixed ids, once however many consumers start', async () => {
  await consume('maintenance', async () => {});
  await consume('maintenance', async () => {});
  const schedulers = await queue('maintenance').getJobSchedulers();
  expect(schedulers.map((s) => s.key).sort()).toEqual(['alerts-evaluate', 'audit-checkpoint', 'audit-upkeep', 'backup-daily', 'nodes-sweep', 'partitions-daily', 'retention-hourly', 'sessions-hourly', 'usage-rollup']);
  expect(schedulers.find((s) => s.key === 'partitions-daily')).toMatchObject({ pattern: '0 5 0 * * *' });
  expect(schedulers.find((s) => s.key === 'audit-checkpoint')).toMatchObject({ every: 60_000, template: { data: { task: 'audit-checkpoint' } } });

  await consume('deploy', async () => {}, { every: { 'deploy-sweep': 300 } });
  expect(await queue('deploy').getJobSchedulers()).toEqual([expect.objectContaining({ key: 'deploy-sweep', every: 300 })]);
});
