import fs from 'node:fs';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { modelVersions } from '../server/db/schema';
import { createFinetuneJob } from '../server/lifecycle/jobs/create';
import { FAST_TRAINING_TIMINGS, jobProbes, makeHfBase, range, tempDir, TRAINER_DOUBLE_COMMAND, trainerDoubleKnobs } from '../server/lifecycle/jobs/testing/fixtures';
import { closeQueues, queue } from '../server/core/queues';
import { closeRedis } from '../server/core/redis';
import { isAlive } from '../server/process/detached-process';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../server/testing/database';
import { makeDataset, makeNode, makeUser } from '../server/testing/factories';
import { until } from '../server/testing/until';
import { startTrainingWorker } from './training';

/**
 * kill -9 of the worker in the middle of a fine-tune, as the OOM killer or a lost host would do it: no
 * handover, its leases simply stop being renewed. What the user keeps: the trainer runs on, the next
 * worker adopts it once the dead worker's lease runs out, and the job finishes once, every step charted
 * once, without starting over or running a second trainer beside the first.
 */
process.env.REDIS_PREFIX = testRedisPrefix('workercrash');
let t: TestDatabase;
let dataDir: string;
const masterKey = randomBytes(32);
const NODE = 'gpu-crash';
let worker: Awaited<ReturnType<typeof startTrainingWorker>> | undefined;
const trainerPids = new Set<number>();
const { row, waitStatus, stepsOf, activeAllocations } = jobProbes(() => t.db);

beforeAll(async () => {
  t = await createTestDatabase('workercrash');
  dataDir = tempDir('workercrash');
});
afterAll(async () => {
  await worker?.close();
  for (const pid of trainerPids) if (isAlive(pid)) process.kill(-pid, 'SIGKILL');
  await queue('training').obliterate({ force: true });
  await closeQueues();
  await closeRedis();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** training-worker-process.ts, forked: the real training worker in a process a test can kill -9. */
async function workerProcess() {
  const child = fork(fileURLToPath(new URL('./testing/training-worker-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, DATABASE_URL: t.url, TEST_MASTER_KEY_HEX: masterKey.toString('hex'), TEST_DATA_DIR: dataDir, TEST_RUNNER_NODE: NODE, LOG_LEVEL: 'error' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    void exited.then(() => reject(new Error('the worker process exited before it started')));
  });
  return { kill: () => (child.kill('SIGKILL'), exited) };
}

it('kill -9 of the worker mid fine-tune: the trainer runs on, the next worker adopts it, and the job ends once with every step', async () => {
  const owner = await makeUser(t.db, { role: 'engineer' });
  await makeNode(t.db, { name: NODE, gpuCount: 1 });
  const base = await makeHfBase(t.db, dataDir);
  const dataset = await makeDataset(t.db, masterKey, dataDir, owner.id);
  trainerDoubleKnobs(20, 150);

  const doomed = await workerProcess();
  const { id } = await createFinetuneJob(t.db, { id: owner.id, role: 'engineer' }, { baseVersionId: base.id, datasetId: dataset.id, gpus: 1 });
  const mid = await until('step 3 of the trainer', async () => {
    const r = await row(id);
    return r.pid && Number(r.progress.step) >= 3 ? r : undefined;
  });
  trainerPids.add(mid.pid!);
  await doomed.kill();
  expect(isAlive(mid.pid!)).toBe(true);

  worker = await startTrainingWorker(t.db, { masterKey, dataDir, runnerNode: NODE, trainer: { python: 'python3', override: TRAINER_DOUBLE_COMMAND }, ...FAST_TRAINING_TIMINGS });
  const done = await waitStatus(id, 'succeeded', 60_000);
  // Adopted, not restarted: one attempt, each step charted once, the adapter registered.
  expect(done.attempts).toBe(1);
  expect(await stepsOf(id)).toEqual(range(1, 20));
  expect(done.logTail.some((l) => /^step 20\/20 loss /.test(l))).toBe(true);
  const [adapter] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
  expect(adapter).toMatchObject({ format: 'lora-adapter', parentVersionId: base.id, producedByJobId: id });
  // The one trainer is gone and its GPU free again.
  await until('the trainer gone', async () => !isAlive(mid.pid!));
  expect(await activeAllocations(id)).toEqual([]);
}, 120_000);
