import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFinetuneJob } from '../server/lifecycle/jobs/create';
import { FAST_TRAINING_TIMINGS, jobProbes, makeHfBase, range, tempDir, TRAINER_DOUBLE_COMMAND, trainerDoubleKnobs } from '../server/lifecycle/jobs/testing/fixtures';
import { closeQueues, queue } from '../server/core/queues';
import { closeRedis, redis, redisKey } from '../server/core/redis';
import { isAlive } from '../server/process/detached-process';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../server/testing/database';
import { makeDataset, makeNode, makeUser } from '../server/testing/factories';
import { until } from '../server/testing/until';
import { startTrainingWorker } from './training';

/**
 * A worker that stalls past its lease (its event loop held up on a loaded host) while another worker takes
 * the job over must let go rather than follow the trainer beside the new owner: two followers would chart
 * the same steps twice. Here the other worker is a lease set in Redis under another id; when it lapses
 * unclaimed, the first worker adopts its trainer again and the job ends once, every step charted once.
 */
process.env.REDIS_PREFIX = testRedisPrefix('traininglease');
let t: TestDatabase;
let dataDir: string;
const masterKey = randomBytes(32);
const NODE = 'gpu-lease';
let worker: Awaited<ReturnType<typeof startTrainingWorker>> | undefined;
let trainerPid: number | undefined;
const { row, waitStatus, stepsOf } = jobProbes(() => t.db);

beforeAll(async () => {
  t = await createTestDatabase('traininglease');
  dataDir = tempDir('traininglease');
});
afterAll(async () => {
  await worker?.close();
  if (trainerPid && isAlive(trainerPid)) process.kill(-trainerPid, 'SIGKILL');
  await queue('training').obliterate({ force: true });
  await closeQueues();
  await closeRedis();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const stepLines = (file: string) => (fs.readFileSync(file, 'utf8').match(/"event": ?"step"/g) ?? []).length;

it('a worker whose lease another worker took lets the job go, and the job still ends once with every step', async () => {
  const owner = await makeUser(t.db, { role: 'engineer' });
  await makeNode(t.db, { name: NODE, gpuCount: 1 });
  const base = await makeHfBase(t.db, dataDir);
  const dataset = await makeDataset(t.db, masterKey, dataDir, owner.id);
  trainerDoubleKnobs(40, 150);
  worker = await startTrainingWorker(t.db, { masterKey, dataDir, runnerNode: NODE, trainer: { python: 'python3', override: TRAINER_DOUBLE_COMMAND }, ...FAST_TRAINING_TIMINGS });
  const { id } = await createFinetuneJob(t.db, { id: owner.id, role: 'engineer' }, { baseVersionId: base.id, datasetId: dataset.id, gpus: 1 });
  const mid = await until('step 3 of the trainer', async () => {
    const r = await row(id);
    return r.pid && r.logPath && Number(r.progress.step) >= 3 ? r : undefined;
  }, 60_000);
  trainerPid = mid.pid!;

  // Another worker holds the lease now, for a few seconds.
  await redis().set(redisKey('job', id, 'lease'), 'another-worker', 'PX', 4_000);
  // Followed, the row trails the trainer's log by a step at most; let go, it falls behind while the trainer runs on.
  await until('the worker letting go of the job', async () => stepLines(mid.logPath!) - Number((await row(id)).progress.step) >= 4, 30_000, 50);
  expect(isAlive(trainerPid)).toBe(true);

  // The other lease lapses unclaimed: the sweep adopts the trainer again from the stored offset.
  const done = await waitStatus(id, 'succeeded', 60_000);
  expect(done.attempts).toBe(1);
  expect(await stepsOf(id)).toEqual(range(1, 40));
}, 120_000);
