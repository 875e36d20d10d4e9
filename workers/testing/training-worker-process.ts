import { createDb } from '../../server/db/client';
import { FAST_TRAINING_TIMINGS, TRAINER_DOUBLE_COMMAND } from '../../server/lifecycle/jobs/testing/fixtures';
import { startTrainingWorker } from '../training';

/**
 * The training queue's worker in a process of its own, with the trainer double and the tests' fast
 * timings, so a test can kill -9 it in the middle of a job. Settings come from the environment (the
 * database, TEST_MASTER_KEY_HEX, TEST_DATA_DIR, TEST_RUNNER_NODE, REDIS_PREFIX, TRAINER_DOUBLE_*); it
 * tells the parent once it consumes the queue.
 */
const db = createDb(process.env.DATABASE_URL!, 4);
await startTrainingWorker(db, {
  masterKey: Buffer.from(process.env.TEST_MASTER_KEY_HEX!, 'hex'),
  dataDir: process.env.TEST_DATA_DIR!,
  runnerNode: process.env.TEST_RUNNER_NODE!,
  trainer: { python: 'python3', override: TRAINER_DOUBLE_COMMAND },
  ...FAST_TRAINING_TIMINGS,
});
process.send!({ ready: true });
