import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { startTrainingWorker } from '../../../workers/training';
import { auditLog, modelVersions } from '../../db/schema';
import { registerVersion } from '../../lifecycle/catalog';
import { makeHfBase, tempDir, TRAINER_DOUBLE_COMMAND } from '../../lifecycle/jobs/testing/fixtures';
import { makeDataset, makeNode } from '../../testing/factories';
import { closeQueues, queue } from '../../core/queues';
import { closeRedis } from '../../core/redis';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { until } from '../../testing/until';
import { startApiTestServer } from '../testing/api-test-server';

// The jobs API as the pages call it: roles, scoping and hostile input, then a fine-tune (trainer double)
// and real GGUF quantizations of stories260K with the real quantizer, perplexity and quality gate.
process.env.REDIS_PREFIX = testRedisPrefix('jobsapi');
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let worker: Awaited<ReturnType<typeof startTrainingWorker>>;
const masterKey = randomBytes(32);
let dataDir: string;
let baseId: string;
let ggufId: string;
let s: Record<'engineer' | 'engineer2' | 'viewer' | 'user' | 'admin', { cookie: string; user: { id: string } }>;
let datasetId: string;
let otherDatasetId: string;
const gguf = path.resolve(__dirname, '../../../models/stories260K.gguf');

beforeAll(async () => {
  t = await createTestDatabase('jobsapi');
  dataDir = tempDir('jobsapi');
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_NODE_NAME: 'gpu-api', ENCLAVE_DATA_DIR: dataDir } });
  await makeNode(t.db, { name: 'gpu-api', gpuCount: 1 });
  baseId = (await makeHfBase(t.db, dataDir)).id;
  ggufId = (await registerVersion(t.db, { modelName: 'stories260K', format: 'gguf', location: gguf })).id;
  s = {} as typeof s;
  for (const role of ['engineer', 'engineer2', 'viewer', 'user', 'admin'] as const) s[role] = await api.userSession(role === 'engineer2' ? 'engineer' : role);
  datasetId = (await makeDataset(t.db, masterKey, dataDir, s.engineer.user.id)).id;
  otherDatasetId = (await makeDataset(t.db, masterKey, dataDir, s.engineer2.user.id, 10)).id;
  process.env.TRAINER_DOUBLE_STEPS = '12';
  process.env.TRAINER_DOUBLE_STEP_MS = '5';
  worker = await startTrainingWorker(t.db, {
    masterKey,
    dataDir,
    runnerNode: 'gpu-api',
    trainer: { python: 'python3', override: TRAINER_DOUBLE_COMMAND },
    pollMs: 50,
    flushMs: 100,
    sweepMs: 300,
  });
});
afterAll(async () => {
  await worker?.close();
  await queue('training').obliterate({ force: true });
  await closeQueues();
  await closeRedis();
  await api?.close();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const call = (kind: 'query' | 'mutation', p: string, input: unknown, who: keyof typeof s) => api.trpc(kind, `jobs.${p}`, input, s[who].cookie);
const waitJob = (id: string, status: string) =>
  until(`job ${status}`, async () => {
    const got = await call('query', 'get', { id }, 'viewer');
    if (got.data?.status === 'failed' && status !== 'failed') throw new Error(`job failed: ${got.data.error}`);
    return got.data?.status === status ? got.data : undefined;
  }, 60_000);

it('checks roles, scope and input on the server', async () => {
  const spec = { baseVersionId: baseId, datasetId };
  expect((await call('query', 'list', undefined, 'user')).status).toBe(403);
  expect((await call('mutation', 'createFinetune', spec, 'viewer')).status).toBe(403);
  const zero = await call('mutation', 'createFinetune', { ...spec, lora_r: 0 }, 'engineer');
  expect([zero.status, zero.error?.message]).toEqual([400, 'lora_r: Too small: expected number to be >=1']);
  expect((await call('mutation', 'createFinetune', { ...spec, shell: 'rm -rf /' }, 'engineer')).status).toBe(400);
  expect((await call('mutation', 'createFinetune', { ...spec, target_modules: ['q_proj; rm'] }, 'engineer')).status).toBe(400);
  expect((await call('mutation', 'createFinetune', 'not an object', 'engineer')).status).toBe(400);
  const foreign = await call('mutation', 'createFinetune', { ...spec, datasetId: otherDatasetId }, 'engineer');
  expect([foreign.status, foreign.error?.message]).toEqual([404, 'datasetId: dataset not found']);
  const fromGguf = await call('mutation', 'createFinetune', { ...spec, baseVersionId: ggufId }, 'engineer');
  expect([fromGguf.status, fromGguf.error?.message]).toEqual([400, 'baseVersionId: fine-tunes start from a Hugging Face checkpoint (format hf); stories260K v1 is gguf']);
  const wrongTarget = await call('mutation', 'createQuantize', { sourceVersionId: ggufId, target: 'fp16' }, 'engineer');
  expect([wrongTarget.status, wrongTarget.error?.message]).toEqual([400, 'target: fp16 is for Hugging Face checkpoints; stories260K v1 is gguf']);
  // A registered hf directory whose config.json went bad since: a 400 naming it, and no job row.
  const brokenDir = path.join(dataDir, 'broken');
  fs.mkdirSync(brokenDir);
  fs.writeFileSync(path.join(brokenDir, 'config.json'), JSON.stringify({ num_hidden_layers: 2 }));
  const broken = (await registerVersion(t.db, { modelName: 'broken', format: 'hf', location: brokenDir })).id;
  const badConfig = await call('mutation', 'createQuantize', { sourceVersionId: broken, target: 'fp16' }, 'engineer');
  expect([badConfig.status, badConfig.error?.message]).toEqual([400, 'sourceVersionId: config.json: hidden_size must be a positive integer (it is missing)']);
  expect((await call('mutation', 'createFinetune', { ...spec, baseVersionId: broken }, 'engineer')).status).toBe(400);
  expect((await call('query', 'list', undefined, 'viewer')).data).toEqual([]);
  expect((await call('query', 'get', { id: 'not-a-uuid' }, 'viewer')).status).toBe(400);
  expect((await call('query', 'metrics', { id: broken, sinceStep: -1 }, 'viewer')).status).toBe(400);
  expect((await call('mutation', 'cancel', { id: '00000000-0000-4000-8000-000000000000' }, 'engineer')).status).toBe(404);
  expect((await call('query', 'lineage', { versionId: '00000000-0000-4000-8000-000000000000' }, 'viewer')).status).toBe(404);

  const estimate = await call('query', 'estimate', spec, 'engineer');
  expect(estimate.data).toMatchObject({ feasible: true, node: 'gpu-api', gpus: [0], loraParameters: 13_631_488 });
  expect(Object.keys(estimate.data.breakdown).sort()).toEqual(['activationBytes', 'logitsBytes', 'loraBytes', 'overheadBytes', 'weightsBytes']);
  const tooBig = await call('query', 'estimate', { ...spec, gpus: 2 }, 'engineer');
  expect(tooBig.data).toMatchObject({ feasible: false, reasons: [expect.stringMatching(/^gpu-api: /)] });
});

it('runs a fine-tune the pages can follow: progress, metrics since a step, logs; only owner or admin may cancel', async () => {
  const created = await call('mutation', 'createFinetune', { baseVersionId: baseId, datasetId, name: 'sums' }, 'engineer');
  expect(created.status).toBe(200);
  const { id } = created.data;
  expect((await call('mutation', 'cancel', { id }, 'engineer2')).error?.message).toBe('Only the owner of this job or an admin may do this');
  const done = await waitJob(id, 'succeeded');
  expect(done).toMatchObject({ name: 'sums', kind: 'finetune', ownerEmail: expect.stringMatching(/^engineer-/), progress: { step: 12, totalSteps: 12 } });
  expect(done).not.toHaveProperty('pid');
  expect(done).not.toHaveProperty('logPath');
  const all = (await call('query', 'metrics', { id }, 'viewer')).data;
  expect(all.filter((m: { kind: string }) => m.kind === 'step')).toHaveLength(12);
  const since = (await call('query', 'metrics', { id, sinceStep: 10 }, 'viewer')).data;
  expect(since.map((m: { step: number }) => m.step)).toEqual([11, 12, 12]); // steps 11, 12 and the final eval
  const logs = (await call('query', 'logs', { id }, 'viewer')).data;
  expect(logs.lines.some((l: string) => l.includes('"event":"done"'))).toBe(true);
  expect((await call('query', 'list', { kind: 'finetune' }, 'viewer')).data.map((j: { id: string }) => j.id)).toContain(id);
  expect((await call('mutation', 'cancel', { id }, 'engineer')).status).toBe(409);
});

it('quantizes stories260K to Q8_0: measured, gated, and a blocked gate needs an audited override before promotion', async () => {
  const passed = await call('mutation', 'createQuantize', { sourceVersionId: ggufId, target: 'q8_0', evalDatasetId: datasetId }, 'engineer');
  const ok = await waitJob(passed.data.id, 'succeeded');
  expect(ok.gateStatus).toBe('passed');
  expect(ok.result).toMatchObject({ target: 'q8_0', maxDeltaPct: 5, evalText: 'dataset', inputBytes: 1185376 });
  expect(ok.result.outputBytes).toBeLessThan(ok.result.inputBytes);
  expect(Math.abs(ok.result.deltaPct)).toBeLessThan(5);
  expect(ok.result.perplexityBefore).toBeGreaterThan(1);
  const [okVersion] = await t.db.select().from(modelVersions).where(eq(modelVersions.id, ok.outputVersionId));
  expect(okVersion).toMatchObject({ format: 'gguf', quantization: 'q8_0', parentVersionId: ggufId, producedByJobId: passed.data.id, stage: 'promoted' });

  // Q8_0 on the bundled text against a limit below its real delta there (+0.07%): blocked.
  const strict = await call('mutation', 'createQuantize', { sourceVersionId: ggufId, target: 'q8_0', maxPerplexityDeltaPct: 0.001 }, 'engineer');
  const blocked = await waitJob(strict.data.id, 'succeeded');
  expect(blocked.gateStatus).toBe('blocked');
  expect(blocked.result).toMatchObject({ evalText: 'bundled', maxDeltaPct: 0.001 });
  expect(blocked.result.deltaPct).toBeGreaterThan(0.001);
  const versionId = blocked.outputVersionId;
  expect((await t.db.select().from(modelVersions).where(eq(modelVersions.id, versionId)))[0]!.stage).toBe('candidate');
  const refused = await call('mutation', 'promoteVersion', { versionId }, 'engineer');
  expect(refused.status).toBe(409);
  expect((await call('mutation', 'overrideGate', { id: strict.data.id, reason: 'fine' }, 'engineer')).error?.message).toBe('reason: say why in at least 15 characters');
  expect((await call('mutation', 'overrideGate', { id: strict.data.id, reason: 'a viewer cannot do this' }, 'viewer')).status).toBe(403);
  // One rule for every job action: its owner or an admin. Another engineer may watch, not vouch for it.
  const notOwner = await call('mutation', 'overrideGate', { id: strict.data.id, reason: 'another engineer vouching for it' }, 'engineer2');
  expect([notOwner.status, notOwner.error?.message]).toEqual([403, 'Only the owner of this job or an admin may do this']);
  expect((await call('mutation', 'promoteVersion', { versionId: ok.outputVersionId }, 'engineer2')).status).toBe(403);
  const reason = 'delta is 0.07%, well within what chat quality tolerates';
  expect((await call('mutation', 'overrideGate', { id: strict.data.id, reason }, 'engineer')).data).toEqual({ id: strict.data.id, gateStatus: 'overridden' });
  const audits = await t.db.select().from(auditLog).where(eq(auditLog.action, 'jobs.overrideGate'));
  expect(audits.find((a) => a.outcome === 'success')).toMatchObject({ target: strict.data.id, actorUserId: s.engineer.user.id, detail: { reason } });
  expect((await call('mutation', 'promoteVersion', { versionId }, 'engineer')).data).toEqual({ id: versionId, stage: 'promoted' });
  expect((await call('query', 'get', { id: strict.data.id }, 'viewer')).data).toMatchObject({ gateStatus: 'overridden', gateOverrideReason: reason });

  const family = (await call('query', 'lineage', { versionId }, 'viewer')).data;
  expect(family.rootId).toBe(ggufId);
  expect(family.edges).toEqual(expect.arrayContaining([{ from: ggufId, to: ok.outputVersionId, jobId: passed.data.id }, { from: ggufId, to: versionId, jobId: strict.data.id }]));
  expect(family.nodes.find((n: { id: string }) => n.id === versionId)).toMatchObject({ quantization: 'q8_0', stage: 'promoted', producedByJob: { kind: 'quantize', gateStatus: 'overridden' } });
}, 120_000);
