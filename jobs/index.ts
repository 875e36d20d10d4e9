import { Worker } from 'bullmq';
import type { Db } from '../server/db/client';
import { log, errorMessage } from '../server/log';
import { queue, queueDefinitions, queuePrefix } from '../server/queues';
import { bullConnectionOptions } from '../server/redis';
import { startDeployWorker } from './deploy';
import { startLoadTestWorker } from './loadtest';
import { runMaintenance } from './maintenance';
import { startTrainingWorker } from './training';

export interface WorkerRole {
  stop(): Promise<void>;
}

/** The worker role: one BullMQ consumer per queue, each with its own connection and concurrency. */
export async function startWorkers(db: Db, masterKey?: Buffer): Promise<WorkerRole> {
  const maintenance = new Worker(
    'maintenance',
    async (job) => runMaintenance(db, queueDefinitions.maintenance.payload.parse(job.data), { masterKey }),
    { connection: bullConnectionOptions(), prefix: queuePrefix(), concurrency: queueDefinitions.maintenance.concurrency },
  );
  maintenance.on('failed', (job, err) => log.warn('maintenance job failed', { job: job?.id, error: errorMessage(err) }));
  // Schedulers are idempotent by id: every worker may upsert them.
  await queue('maintenance').upsertJobScheduler('partitions-daily', { pattern: '0 5 0 * * *' }, { name: 'maintenance', data: { task: 'partitions' } });
  await queue('maintenance').upsertJobScheduler('sessions-hourly', { every: 3_600_000 }, { name: 'maintenance', data: { task: 'sessions' } });
  await queue('maintenance').upsertJobScheduler('nodes-sweep', { every: 15_000 }, { name: 'maintenance', data: { task: 'nodes' } });
  await queue('maintenance').upsertJobScheduler('alerts-evaluate', { every: 15_000 }, { name: 'maintenance', data: { task: 'alerts' } });
  const deploy = await startDeployWorker(db, { masterKey });
  const training = await startTrainingWorker(db, { masterKey });
  const loadtest = await startLoadTestWorker(db, { masterKey });
  return {
    // close() waits for running jobs to reach their end: the safe point for maintenance and reconcile work.
    stop: async () => {
      await Promise.all([maintenance.close(), deploy.close(), training.close(), loadtest.close()]);
    },
  };
}
