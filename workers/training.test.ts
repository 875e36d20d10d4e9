import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { jobMetrics, modelVersions } from '../server/db/schema';
import { createFinetuneJob, createQuantizeJob } from '../server/lifecycle/jobs/create';
import { finetuneSpecSchema } from '../server/lifecycle/finetune/spec';
import { cancelJob } from '../server/lifecycle/jobs/queries';
import { lineage } from '../server/lifecycle/jobs/lineage';
import { FAST_TRAINING_TIMINGS, jobProbes, makeHfBase, range, tempDir, TRAINER_DOUBLE_COMMAND, trainerDoubleKnobs } from '../server/lifecycle/jobs/testing/fixtures';
import { jobWorkspace } from '../server/lifecycle/jobs/workspace';
import { closeQueues, queue } from '../server/core/queues';
import { closeRedis } from '../server/core/redis';
import { isAlive } from '../server/process/detached-process';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../server/testing/database';
import { makeDataset, makeJob, makeNode, makeUser } from '../server/testing/factories';
import { until } from '../server/testing/until';
import { Redis } from 'ioredis';
import { env } from '../server/core/env';
import { jobChannel } from '../server/lifecycle/jobs/live';
import { startTrainingWorker } from './training';

// The whole fine-tune path on real PostgreSQL and Redis, with the trainer double (the only thing that
// needs a GPU) spawned detached exactly as lora_sft.py would be.
process.env.REDIS_PREFIX = testRedisPrefix('training');
let t: TestDatabase;
let dataDir: string;
const masterKey = randomBytes(32);
let owner: Awaited<ReturnType<typeof makeUser>>;
const caller = () => ({ id: owner.id, role: 'engineer' as const });
let baseId: string;
let datasetId: string;
let worker: Awaited<ReturnType<typeof startTrainingWorker>> | undefined;

const start = () =>
  startTrainingWorker(t.db, {
    masterKey,
    dataDir,
    runnerNode: 'gpu-test',
    trainer: { python: 'python3', override: TRAINER_DOUBLE_COMMAND },
    ...FAST_TRAINING_TIMINGS,
  });

const { row, waitStatus, stepsOf, activeAllocations } = jobProbes(() => t.db);
const knobs = trainerDoubleKnobs;

beforeAll(async () => {
  t = await createTestDatabase('training');
  dataDir = tempDir('training');
  owner = await makeUser(t.db, { role: 'engineer' });
  await makeNode(t.db, { name: 'gpu-test', gpuCount: 2 });
  baseId = (await makeHfBase(t.db, dataDir)).id;
  datasetId = (await makeDataset(t.db, masterKey, dataDir, owner.id)).id;
  worker = await start();
});
afterAll(async () => {
  await worker?.close();
  await queue('training').obliterate({ force: true });
  await closeQueues();
  await closeRedis();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it('runs a fine-tune: placed on a GPU, steps become metrics and progress, done registers a lora-adapter of the base', async () => {
  knobs(20, 10);
  // The UI follows a job on its Redis channel; collect what is published.
  const listener = new Redis(env().REDIS_URL);
  const published: { channel: string; message: Record<string, unknown> }[] = [];
  listener.on('pmessage', (_p, channel, message) => published.push({ channel, message: JSON.parse(message) }));
  await listener.psubscribe(jobChannel('*'));
  const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId, gpus: 1 });
  const running = await waitStatus(id, 'running');
  expect(running).toMatchObject({ nodeName: 'gpu-test', gpuIndices: [0] });
  expect(await activeAllocations(id)).toHaveLength(1);
  const done = await waitStatus(id, 'succeeded');
  expect(done.progress).toMatchObject({ step: 20, totalSteps: 20, etaSeconds: 0 });
  expect(done.lastCheckpoint).toMatch(/checkpoint-15$/);
  expect(done.attempts).toBe(1);
  expect(done.logTail.some((l) => /^step 20\/20 loss /.test(l))).toBe(true);
  expect(await stepsOf(id)).toEqual(range(1, 20));
  const [first] = await t.db.select().from(jobMetrics).where(and(eq(jobMetrics.jobId, id), eq(jobMetrics.step, 1)));
  expect(Object.keys(first!.values).sort()).toEqual(['epoch', 'grad_norm', 'learning_rate', 'loss', 'tokens_per_second']);
  expect(await activeAllocations(id)).toEqual([]);

  const [adapter] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
  expect(adapter).toMatchObject({ format: 'lora-adapter', parentVersionId: baseId, producedByJobId: id, stage: 'promoted' });
  expect(fs.existsSync(path.join(adapter!.location, 'adapter_config.json'))).toBe(true);
  // The plaintext dataset copies the trainer read are gone once the job ends.
  expect(fs.existsSync(jobWorkspace(dataDir, id).trainData)).toBe(false);
  const family = await lineage(t.db, adapter!.id);
  expect(family.edges).toEqual([{ from: baseId, to: adapter!.id, jobId: id }]);
  await until('the success message', async () => published.some((p) => p.message.status === 'succeeded'));
  await listener.quit();
  expect(published.every((p) => p.channel === jobChannel(id))).toBe(true);
  expect(published.some((p) => (p.message.progress as { step?: number } | null)?.step === 20)).toBe(true);
});

it('with merge: the adapter is a lora-adapter of the base and the merged model an hf version whose parent is the adapter', async () => {
  knobs(5, 5);
  const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId, gpus: 1, merge: true });
  const done = await waitStatus(id, 'succeeded');
  const [merged] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
  expect(merged).toMatchObject({ format: 'hf', producedByJobId: id });
  expect(fs.existsSync(path.join(merged!.location, 'config.json'))).toBe(true);
  const [adapter] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, merged!.parentVersionId!));
  expect(adapter).toMatchObject({ format: 'lora-adapter', parentVersionId: baseId, producedByJobId: id });
  expect(done.result).toMatchObject({ mergedVersionId: merged!.id });
  const family = await lineage(t.db, merged!.id);
  expect(family.edges).toEqual(expect.arrayContaining([{ from: baseId, to: adapter!.id, jobId: id }, { from: adapter!.id, to: merged!.id, jobId: id }]));
});

it('resumes from the last checkpoint when the trainer is killed mid-run, charting each step once', async () => {
  knobs(20, 60);
  const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId });
  const mid = await until('a checkpoint and a step past it', async () => {
    const r = await row(id);
    return r.lastCheckpoint && Number(r.progress.step) >= 7 ? r : undefined;
  });
  process.kill(-mid.pid!, 'SIGKILL'); // as the OOM killer would
  const done = await waitStatus(id, 'succeeded');
  expect(done.attempts).toBe(2);
  expect(done.logTail.some((l) => /trainer stopped \(signal SIGKILL\) without finishing: resuming from checkpoint at step (5|10)/.test(l))).toBe(true);
  expect(await stepsOf(id)).toEqual(range(1, 20));
  expect(isAlive(mid.pid!)).toBe(false);
  // The second run started after the checkpoint (--resume-from-checkpoint), not from step 1 again.
  const printed = fs.readFileSync(done.logPath!, 'utf8');
  const resumedAt = Number(/resuming from checkpoint at step (\d+)/.exec(done.logTail.join('\n'))![1]);
  expect(resumedAt).toBeGreaterThanOrEqual(5);
  expect(printed.match(/"step":1,/g)).toHaveLength(1);
  for (const step of range(1, 20)) expect(printed).toContain(`"step":${step},`);
});

it('hands a running trainer over when the worker stops, and the next worker adopts it', async () => {
  knobs(20, 80);
  const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId });
  const before = await until('step 3', async () => ((await row(id)).progress.step as number) >= 3 && row(id));
  await worker!.close();
  expect(isAlive(before.pid!)).toBe(true); // a worker restart does not stop training
  worker = await start();
  const done = await waitStatus(id, 'succeeded');
  expect(done.attempts).toBe(1);
  expect(done.pid).toBeNull();
  expect(await stepsOf(id)).toEqual(range(1, 20)); // read on from where the first worker stopped
});

it('restarts from the checkpoint a trainer that died while no worker was watching', async () => {
  knobs(20, 80);
  const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId });
  const mid = await until('a checkpoint', async () => {
    const r = await row(id);
    return r.lastCheckpoint ? r : undefined;
  });
  await worker!.close();
  process.kill(-mid.pid!, 'SIGKILL');
  await until('the trainer gone', async () => !isAlive(mid.pid!));
  worker = await start();
  const done = await waitStatus(id, 'succeeded');
  expect(done.attempts).toBe(2);
  expect(await stepsOf(id)).toEqual(range(1, 20));
});

it('the sweep runs a queued job whose enqueue was lost (Redis down when it was created)', async () => {
  knobs(3, 0);
  const spec = finetuneSpecSchema.parse({ baseVersionId: baseId, datasetId });
  const lost = await makeJob(t.db, { name: 'lost', ownerId: owner.id, spec, baseVersionId: baseId, datasetId, memoryBytes: 1024 ** 3 });
  expect((await waitStatus(lost.id, 'succeeded')).progress).toMatchObject({ step: 3, totalSteps: 3 });
});

it('cancel stops the process group and frees the GPUs', async () => {
  knobs(200, 100);
  const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId, gpus: 2 });
  const running = await until('running with a pid', async () => {
    const r = await row(id);
    return r.status === 'running' && r.pid ? r : undefined;
  });
  expect(running.gpuIndices).toEqual([0, 1]);
  expect(await cancelJob(t.db, caller(), id)).toEqual({ id, status: 'cancelling' });
  const cancelled = await waitStatus(id, 'cancelled', 10_000);
  expect(isAlive(running.pid!)).toBe(false);
  expect(cancelled.finishedAt).not.toBeNull();
  expect(await activeAllocations(id)).toEqual([]);
});

it('a job that cannot fit waits with the planner reason, and cancelling it needs no process', async () => {
  const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId, per_device_batch_size: 64, max_seq_length: 8192 });
  const waiting = await waitStatus(id, 'waiting');
  expect(waiting.waitingReason).toBe('gpu-test: needs 2693.2 GiB per GPU on 1 GPU; largest free: 79.6 GiB (GPU 0)');
  expect(await activeAllocations(id)).toEqual([]);
  expect(await cancelJob(t.db, caller(), id)).toEqual({ id, status: 'cancelled' });
});

it('fails with the trainer error message, and gives up after three restarts of a trainer that keeps dying', async () => {
  knobs(0, 0); // the double refuses 0 steps with an error event and exit 1
  const bad = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId });
  expect((await waitStatus(bad.id, 'failed')).error).toBe('TRAINER_DOUBLE_STEPS must be at least 1');

  knobs(10, 0);
  process.env.TRAINER_DOUBLE_CRASH_AFTER_STEP = '7';
  try {
    const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId });
    const failed = await waitStatus(id, 'failed');
    expect(failed.attempts).toBe(4);
    expect(failed.error).toBe('the trainer stopped without finishing 4 times (last: exit code 137); giving up');
    expect(await activeAllocations(id)).toEqual([]);
  } finally {
    delete process.env.TRAINER_DOUBLE_CRASH_AFTER_STEP;
  }
});

it('quantizes a Hugging Face checkpoint through quantize.py (double): gate from its eval event, output registered as hf', async () => {
  knobs(1, 10);
  const { id } = await createQuantizeJob(t.db, caller(), { sourceVersionId: baseId, target: 'w8a8-int8', evalDatasetId: datasetId });
  const done = await waitStatus(id, 'succeeded');
  expect(done).toMatchObject({ gateStatus: 'passed', progress: { step: 5, totalSteps: 5, stage: 'save' }, result: { maxDeltaPct: 5 } });
  expect(done.result.deltaPct).toBeCloseTo(0.5, 6);
  const [out] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
  expect(out).toMatchObject({ format: 'hf', quantization: 'w8a8-int8', parentVersionId: baseId, producedByJobId: id, stage: 'promoted' });

  process.env.TRAINER_DOUBLE_PERPLEXITY_DELTA_PCT = '9';
  try {
    const worse = await createQuantizeJob(t.db, caller(), { sourceVersionId: baseId, target: 'fp8-dynamic' });
    const blocked = await waitStatus(worse.id, 'succeeded');
    expect(blocked.gateStatus).toBe('blocked');
    expect((await t.db.select().from(modelVersions).where(eq(modelVersions.id, blocked.outputVersionId!)))[0]!.stage).toBe('candidate');
  } finally {
    delete process.env.TRAINER_DOUBLE_PERPLEXITY_DELTA_PCT;
  }
});
