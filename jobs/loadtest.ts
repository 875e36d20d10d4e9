import { Worker } from 'bullmq';
import type { Db } from '../server/db/client';
import { executeLoadTest } from '../server/evaluation/loadtest/execute';
import { errorMessage, log } from '../server/log';
import { queueDefinitions, queuePrefix } from '../server/queues';
import { bullConnectionOptions } from '../server/redis';

/** The `loadtest` queue's consumer: runs one load test at a time (a second would skew the first's timing). */
export async function startLoadTestWorker(db: Db, opts: { masterKey?: Buffer } = {}): Promise<{ close(): Promise<void> }> {
  const worker = new Worker(
    'loadtest',
    async (job) => {
      const { loadTestId } = queueDefinitions.loadtest.payload.parse(job.data);
      await executeLoadTest(db, loadTestId, opts);
    },
    { connection: bullConnectionOptions(), prefix: queuePrefix(), concurrency: queueDefinitions.loadtest.concurrency },
  );
  worker.on('failed', (job, err) => log.warn('loadtest job failed', { job: job?.id, error: errorMessage(err) }));
  return worker;
}
