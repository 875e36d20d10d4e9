import os from 'node:os';
import type { Db } from '../server/db/client';
import { env } from '../server/core/env';
import { writeDatasetPart } from '../server/lifecycle/datasets/store';
import { TRAINING_DEFAULTS, TrainingSupervisor, type TrainingDeps } from '../server/lifecycle/jobs/supervisor';
import { defineConsumer } from '../server/core/queues';

export function trainingDeps(db: Db, over: Partial<TrainingDeps> = {}): TrainingDeps {
  const e = env();
  return {
    db,
    dataDir: e.dataDir,
    trainer: { python: e.ENCLAVE_TRAINER_PYTHON, override: e.ENCLAVE_TRAINER_COMMAND },
    runnerNode: e.ENCLAVE_NODE_NAME ?? os.hostname(),
    writeDataset: writeDatasetPart,
    ...TRAINING_DEFAULTS,
    ...over,
  };
}

/**
 * The `training` queue's consumer: runs fine-tune and quantization jobs (job id = jobs row id). Trainers
 * run detached and are followed by the supervisor, not inside a queue job, so a long training never holds
 * a queue slot and a worker restart hands its trainers over instead of killing them.
 */
export async function startTrainingWorker(db: Db, opts: { masterKey?: Buffer } & Partial<TrainingDeps> = {}): Promise<{ close(): Promise<void>; supervisor: TrainingSupervisor }> {
  const supervisor = new TrainingSupervisor(trainingDeps(db, opts));
  const worker = await defineConsumer('training', ({ jobId }) => supervisor.run(jobId));
  supervisor.start();
  return {
    supervisor,
    // Ordered: stop taking work (a running GGUF quantization finishes), then hand the trainers over.
    close: async () => {
      await worker.close();
      await supervisor.close();
    },
  };
}
