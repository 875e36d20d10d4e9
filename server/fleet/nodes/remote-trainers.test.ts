import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrainingWorker } from '../../../workers/training';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { auditLog, gpuNodes, modelVersions } from '../../db/schema';
import { parseEnv } from '../../core/env';
import { createFinetuneJob, createQuantizeJob, estimateFinetune } from '../../lifecycle/jobs/create';
import { cancelJob } from '../../lifecycle/jobs/queries';
import { FAST_TRAINING_TIMINGS, jobProbes, makeHfBase, range, tempDir, TRAINER_DOUBLE_COMMAND, trainerDoubleKnobs } from '../../lifecycle/jobs/testing/fixtures';
import { REPORT_MAX_BYTES } from '../../lifecycle/jobs/remote';
import { jobWorkspace } from '../../lifecycle/jobs/workspace';
import { closeQueues, queue } from '../../core/queues';
import { closeRedis } from '../../core/redis';
import { isAlive, isRunning } from '../../process/detached-process';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeDataset, makeUser } from '../../testing/factories';
import { until } from '../../testing/until';
import type { GpuInfo } from '../../gpu/types';
import { createJoinToken } from './join-tokens';
import { startRemoteAgent } from './remote-agent';
import { startAgent as startLocalAgent } from '../agent';

// A fine-tune placed on a GPU host that joined over the control API: the worker (on a host without GPUs)
// places it, the remote agent downloads the inputs, runs the trainer double detached and reports its
// log; the control plane counts it exactly as a local trainer's. Real PostgreSQL, Redis and HTTP.
process.env.REDIS_PREFIX = testRedisPrefix('remotetrainers');
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let controlDir: string;
let agentDir: string;
const masterKey = randomBytes(32);
let owner: Awaited<ReturnType<typeof makeUser>>;
let baseId: string;
let datasetId: string;
let worker: Awaited<ReturnType<typeof startTrainingWorker>>;
let agent: Awaited<ReturnType<typeof startRemoteAgent>> | undefined;

const REMOTE = 'gpu-remote';
const h100 = (index: number): GpuInfo => ({ index, name: 'NVIDIA H100 80GB HBM3', uuid: `GPU-remote-${index}`, memoryTotalMiB: 81_559, memoryUsedMiB: 0, utilizationPct: 0, temperatureC: 30, powerW: 70, mig: null });
const inventory = async () => ({ gpus: [h100(0), h100(1)], topology: null, processes: null });
const agentEnv = () => parseEnv({ ENCLAVE_DATA_DIR: agentDir, HOST: '127.0.0.1', ENCLAVE_TRAINER_COMMAND: TRAINER_DOUBLE_COMMAND });
const startAgent = (token?: string) => startRemoteAgent(agentEnv(), { joinUrl: api.base, token, nodeName: REMOTE, pollMs: 60_000, heartbeatMs: 60_000, trainerPollMs: 100, inventory });
const caller = () => ({ id: owner.id, role: 'engineer' as const });
const { row, waitStatus, stepsOf, activeAllocations } = jobProbes(() => t.db);
const knobs = trainerDoubleKnobs;

beforeAll(async () => {
  t = await createTestDatabase('remotetrainers');
  controlDir = tempDir('remote-trainers-control');
  agentDir = tempDir('remote-trainers-agent');
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: controlDir } });
  owner = await makeUser(t.db, { role: 'engineer' });
  baseId = (await makeHfBase(t.db, controlDir)).id;
  datasetId = (await makeDataset(t.db, masterKey, controlDir, owner.id)).id;
  const { token } = await createJoinToken(t.db);
  agent = await startAgent(token);
  // The worker's host has no GPUs; it places jobs, the agent runs them.
  worker = await startTrainingWorker(t.db, {
    masterKey,
    dataDir: controlDir,
    runnerNode: 'control-host',
    trainer: { python: 'python3', override: TRAINER_DOUBLE_COMMAND },
    ...FAST_TRAINING_TIMINGS,
    // Reports come at least every 5 s while the node is healthy; silence only counts on an unhealthy node.
    agentSilenceMs: 2_000,
  });
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await worker?.close();
  await api?.close();
  await queue('training').obliterate({ force: true });
  await closeQueues();
  await closeRedis();
  await t?.drop();
  for (const dir of [controlDir, agentDir]) fs.rmSync(dir, { recursive: true, force: true });
});

describe('trainers on a remote agent', () => {
  it('an agent that shares the database runs the jobs placed on its node the same way', async () => {
    trainerDoubleKnobs(6, 10);
    // A host with eight GPUs whose agent shares the database (and so the data directory, where datasets
    // are sealed): a 4-GPU job fits only there.
    const local = await startLocalAgent(t.db, parseEnv({ ENCLAVE_DATA_DIR: controlDir, ENCLAVE_TRAINER_COMMAND: TRAINER_DOUBLE_COMMAND }), {
      nodeName: 'gpu-local',
      pollMs: 60_000,
      heartbeatMs: 60_000,
      trainerPollMs: 100,
      masterKey,
      inventory: async () => ({ gpus: Array.from({ length: 8 }, (_, i) => h100(i)), topology: null, processes: null }),
    });
    try {
      const estimate = await estimateFinetune(t.db, caller(), { baseVersionId: baseId, datasetId, gpus: 4 });
      expect(estimate).toMatchObject({ feasible: true, node: 'gpu-local' });
      const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId, gpus: 4 });
      const done = await waitStatus(id, 'succeeded');
      expect(done).toMatchObject({ nodeName: 'gpu-local', gpuIndices: [0, 1, 2, 3], attempts: 1, progress: { step: 6, runBy: 'agent' } });
      expect(await stepsOf(id)).toEqual(range(1, 6));
      const [adapter] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
      expect(adapter!.location.startsWith(jobWorkspace(controlDir, id).output)).toBe(true);
      await until('the inputs removed', async () => !fs.existsSync(jobWorkspace(controlDir, id).trainData));
    } finally {
      await local.stop();
      // Out of the way of the jobs below (placement takes healthy nodes only).
      await t.db.update(gpuNodes).set({ status: 'draining' }).where(eq(gpuNodes.name, 'gpu-local'));
    }
  });

  it('runs a fine-tune there: inputs downloaded, log reported, metrics and the adapter registered, plaintext removed', async () => {
    knobs(12, 20);
    const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId, gpus: 1 });
    const running = await waitStatus(id, 'running');
    expect(running).toMatchObject({ nodeName: REMOTE, gpuIndices: [0], attempts: 1 });
    expect(running.progress).toMatchObject({ runBy: 'agent' });
    const ws = jobWorkspace(agentDir, id);
    // While it runs, the trainer reads the rows downloaded from the control plane.
    const midway = await until('the trainer running with its inputs', async () => {
      const r = await row(id);
      return r.pid && fs.existsSync(ws.trainData) ? r : undefined;
    });
    expect(midway.logPath).toBe(ws.log);
    const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    // The dataset's 20 rows, split as recorded at upload, in the trainer's messages form.
    expect(lines(ws.trainData).length + lines(ws.evalData).length).toBe(20);
    expect(JSON.parse(lines(ws.trainData)[0]!)).toHaveProperty('messages');
    expect(fs.statSync(ws.trainData).mode & 0o777).toBe(0o600);

    const done = await waitStatus(id, 'succeeded');
    expect(done.progress).toMatchObject({ step: 12, totalSteps: 12, etaSeconds: 0 });
    expect(done.lastCheckpoint).toMatch(/checkpoint-10$/);
    expect(done.logTail.some((l) => /^step 12\/12 loss /.test(l))).toBe(true);
    expect(await stepsOf(id)).toEqual(range(1, 12));
    expect(await activeAllocations(id)).toEqual([]);
    const [adapter] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
    expect(adapter).toMatchObject({ format: 'lora-adapter', parentVersionId: baseId, producedByJobId: id });
    expect(adapter!.location.startsWith(ws.output)).toBe(true);
    expect(fs.existsSync(path.join(adapter!.location, 'adapter_config.json'))).toBe(true);
    // Plaintext inputs are gone on the agent; the worker's host never held any.
    await until('the inputs removed', async () => !fs.existsSync(ws.trainData) && !fs.existsSync(ws.evalData));
    expect(fs.existsSync(jobWorkspace(controlDir, id).dir)).toBe(false);
    expect(fs.readdirSync(path.join(controlDir, 'tmp'))).toEqual([]);
    // Each plaintext download is on the audit chain, under the node that took it.
    const audits = await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'jobs.input_download'), eq(auditLog.target, id)));
    expect(audits.map((a) => [a.actorLabel, (a.detail as { input: string }).input]).sort()).toEqual([
      [`node:${REMOTE}`, 'held-out'],
      [`node:${REMOTE}`, 'train'],
    ]);
  });

  it('runs an HF quantization there: measured on the dataset\'s held-out text, calibrated on its training text, gated', async () => {
    knobs(5, 10);
    const { id } = await createQuantizeJob(t.db, caller(), { sourceVersionId: baseId, target: 'w8a8-int8', evalDatasetId: datasetId });
    const done = await waitStatus(id, 'succeeded');
    expect(done).toMatchObject({ nodeName: REMOTE, gateStatus: 'passed', progress: { step: 5, totalSteps: 5, runBy: 'agent' } });
    const [out] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, done.outputVersionId!));
    expect(out).toMatchObject({ format: 'hf', quantization: 'w8a8-int8', parentVersionId: baseId, producedByJobId: id, stage: 'promoted' });
    expect(out!.location.startsWith(jobWorkspace(agentDir, id).output)).toBe(true);
    await until('the texts removed', async () => !fs.existsSync(jobWorkspace(agentDir, id).evalText) && !fs.existsSync(jobWorkspace(agentDir, id).calibrationText));
  });

  it('resumes from the last checkpoint after the trainer is killed, and the agent restarting mid-run adopts it', async () => {
    knobs(20, 80);
    const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId });
    const mid = await until('a checkpoint and a step past it', async () => {
      const r = await row(id);
      return r.pid && r.lastCheckpoint && Number(r.progress.step) >= 7 ? r : undefined;
    });
    process.kill(-mid.pid!, 'SIGKILL'); // as the OOM killer would
    const resumed = await until('the second attempt running', async () => {
      const r = await row(id);
      return r.attempts === 2 && r.pid && r.pid !== mid.pid ? r : undefined;
    });
    expect(resumed.logTail.join('\n')).toMatch(/resuming from checkpoint at step (5|10)/);

    // The agent goes away (an upgrade); the trainer keeps running; a new agent adopts it by pid.
    await agent!.stop();
    expect(isAlive(resumed.pid!)).toBe(true);
    agent = await startAgent();
    const done = await waitStatus(id, 'succeeded', 60_000);
    expect(done.attempts).toBe(2);
    expect(done.pid).toBeNull();
    // Steps after the checkpoint were done again, and charted once.
    expect(await stepsOf(id)).toEqual(range(1, 20));
    expect(isRunning(resumed.pid!)).toBe(false);
  });

  it('a log longer than one report goes in several, whole lines each, and every step counts once', async () => {
    trainerDoubleKnobs(4000, 0);
    const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId });
    // The agent is away while the trainer writes its whole log; the next agent finds it gone and reports
    // everything from the counted offset.
    const started = await until('the trainer started', async () => (await row(id)).pid ?? undefined);
    await agent!.stop();
    await until('the trainer finished', async () => !isAlive(started));
    agent = await startAgent();
    const done = await waitStatus(id, 'succeeded', 60_000);
    expect(fs.statSync(jobWorkspace(agentDir, id).log).size).toBeGreaterThan(REPORT_MAX_BYTES);
    expect(Number(done.progress.logOffset)).toBe(fs.statSync(jobWorkspace(agentDir, id).log).size);
    expect(await stepsOf(id)).toEqual(range(1, 4000));
  }, 90_000);

  it('cancel stops the trainer on its host and frees the GPUs', async () => {
    knobs(400, 50);
    const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId });
    const running = await until('the trainer stepping', async () => {
      const r = await row(id);
      return r.pid && Number(r.progress.step) >= 2 ? r : undefined;
    });
    expect(await activeAllocations(id)).toHaveLength(1);
    await cancelJob(t.db, caller(), id);
    await waitStatus(id, 'cancelled');
    expect(isAlive(running.pid!)).toBe(false);
    expect(await activeAllocations(id)).toEqual([]);
  });

  it('answers only the node a job runs on, and refuses malformed or stale reports', async () => {
    knobs(400, 50);
    const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId });
    const running = await until('the trainer stepping', async () => {
      const r = await row(id);
      return r.pid && Number(r.progress.step) >= 1 ? r : undefined;
    });
    const credential = JSON.parse(fs.readFileSync(path.join(agentDir, 'agent-credential.json'), 'utf8')).credential as string;
    const auth = { authorization: `Bearer ${credential}` };
    // Another joined node sees nothing of this job.
    const { token } = await createJoinToken(t.db);
    const other = (await (await api.request('/api/agent/join', { method: 'POST', body: JSON.stringify({ token, node: { name: 'gpu-other', gpus: [], topology: null } }) })).json()) as { credential: string };
    const otherAuth = { authorization: `Bearer ${other.credential}` };
    expect((await api.request(`/api/agent/jobs/${id}/input/train`, { headers: otherAuth })).status).toBe(404);
    expect((await api.request(`/api/agent/jobs/${id}/report`, { method: 'POST', headers: otherAuth, body: JSON.stringify({ attempt: 1, offset: 0, data: '' }) })).status).toBe(404);
    expect(((await (await api.request('/api/agent/jobs', { headers: otherAuth })).json()) as { jobs: unknown[] }).jobs).toEqual([]);
    expect((await api.request(`/api/agent/jobs/${id}/input/train`)).status).toBe(401);
    // Its own node: a wrong input name, a malformed body, a stale attempt, a report from ahead of the count.
    expect((await api.request(`/api/agent/jobs/${id}/input/secrets`, { headers: auth })).status).toBe(400);
    expect((await api.request(`/api/agent/jobs/${id}/input/eval-text`, { headers: auth })).status).toBe(400);
    const malformed = await api.request(`/api/agent/jobs/${id}/report`, { method: 'POST', headers: auth, body: JSON.stringify({ attempt: 1, offset: -1, data: '' }) });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as any).error.message).toMatch(/offset/);
    const stale = await api.request(`/api/agent/jobs/${id}/report`, { method: 'POST', headers: auth, body: JSON.stringify({ attempt: 7, offset: 0, data: '' }) });
    expect(stale.status).toBe(409);
    const ahead = await api.request(`/api/agent/jobs/${id}/report`, { method: 'POST', headers: auth, body: JSON.stringify({ attempt: 1, offset: 1e12, data: '' }) });
    expect(ahead.status).toBe(409);
    // A repeated report counts once: the bytes before the counted offset are skipped.
    const before = await row(id);
    const counted = Number(before.progress.logOffset);
    const again = await api.request(`/api/agent/jobs/${id}/report`, { method: 'POST', headers: auth, body: JSON.stringify({ attempt: 1, offset: 0, data: Buffer.from(fs.readFileSync(jobWorkspace(agentDir, id).log).subarray(0, counted)).toString('base64') }) });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { offset: number }).offset).toBeGreaterThanOrEqual(counted);
    await cancelJob(t.db, caller(), id);
    await waitStatus(id, 'cancelled');
    expect(isAlive(running.pid!)).toBe(false);
    const steps = await stepsOf(id);
    expect(new Set(steps).size).toBe(steps.length);
  });

  it('a node that goes silent fails its job; the agent coming back stops the orphaned trainer', async () => {
    knobs(400, 50);
    const { id } = await createFinetuneJob(t.db, caller(), { baseVersionId: baseId, datasetId });
    const running = await until('the trainer stepping', async () => {
      const r = await row(id);
      return r.pid && Number(r.progress.step) >= 1 ? r : undefined;
    });
    await agent!.stop();
    await t.db.update(gpuNodes).set({ status: 'unhealthy' }).where(eq(gpuNodes.name, REMOTE));
    const failed = await waitStatus(id, 'failed');
    expect(failed.error).toMatch(/the agent on gpu-remote stopped reporting/);
    expect(await activeAllocations(id)).toEqual([]);
    expect(isAlive(running.pid!)).toBe(true);
    agent = await startAgent();
    await until('the orphaned trainer stopped', async () => !isAlive(running.pid!));
    expect(fs.existsSync(jobWorkspace(agentDir, id).trainData)).toBe(false);
  });
});
