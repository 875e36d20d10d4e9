import type { Db } from '../server/db/client';
import { startDeployWorker } from './deploy';
import { startKnowledgeWorker } from './knowledge';
import { startLoadTestWorker } from './loadtest';
import { startMaintenanceWorker } from './maintenance';
import { startTrainingWorker } from './training';

export interface WorkerRole {
  stop(): Promise<void>;
}

/** The worker role: one consumer per queue, each made by the queue contract's defineConsumer. */
export async function startWorkers(db: Db, masterKey?: Buffer, gatewayUrl?: string): Promise<WorkerRole> {
  const consumers = [
    await startMaintenanceWorker(db, masterKey),
    await startDeployWorker(db, { masterKey }),
    await startTrainingWorker(db, { masterKey }),
    await startLoadTestWorker(db, { masterKey }),
    ...(masterKey && gatewayUrl ? [await startKnowledgeWorker({ db, masterKey, gatewayUrl })] : []),
  ];
  return {
    // close() waits for running jobs to reach their end: the safe point for maintenance and reconcile work.
    stop: async () => {
      await Promise.all(consumers.map((c) => c.close()));
    },
  };
}
