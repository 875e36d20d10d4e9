import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { storedSpec } from '../../engines/stored-spec';
import { parseVllmStartupLog } from '../../engines/vllm/startup-log';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment, makeModelVersion, makeNode, makeReplica } from '../../testing/factories';
import { choosePlacement, lockPlacement } from './claims';
import { dryRun } from './dry-run';
import { claimForDeployment, estimateForVersion } from './model-config';
import { recordStartMeasurement } from './start-measurements';

/**
 * The learning loop on real PostgreSQL: a start's log is stored beside the prediction for its placement,
 * and the next plan of the same model version, dtype, quantization, TP and GPU type claims what was
 * measured instead of the estimate, and says so.
 */
let t: TestDatabase;
let dir: string;
const GiB = 1024 ** 3;
const H100 = 'NVIDIA H100 80GB HBM3';

beforeAll(async () => {
  t = await createTestDatabase('learnedclaim');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-learned-'));
  fs.copyFileSync(path.join(import.meta.dirname, '../estimator/configs/meta-llama-3-8b.json'), path.join(dir, 'config.json'));
});
afterAll(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** vLLM V1 0.8 wording, as the vLLM double prints it (figures chosen to differ from the estimate). */
const startLog = (weightsGiB: number) =>
  [
    `INFO 03-14 09:12:55 [gpu_model_runner.py:1291] Model loading took ${weightsGiB.toFixed(4)} GiB and 13.204526 seconds`,
    `INFO 03-14 09:13:07 [gpu_worker.py:227] model weights take ${weightsGiB.toFixed(2)}GiB; non_torch_memory takes 0.35GiB; PyTorch activation peak memory takes 1.24GiB; the rest of the memory reserved for KV Cache is 20.00GiB.`,
    'INFO 03-14 09:13:08 [kv_cache_utils.py:566] GPU KV cache size: 163,840 tokens',
    'INFO 03-14 09:13:08 [kv_cache_utils.py:570] Maximum concurrency for 8,192 tokens per request: 20.00x',
    'INFO 03-14 09:13:20 [gpu_model_runner.py:1627] Graph capturing finished in 12 secs, took 0.31 GiB',
  ].join('\n');

it('a recorded start changes the next plan, and the plan says so', async () => {
  const node = await makeNode(t.db, { name: 'h100-a', gpuCount: 2, gpuName: H100 });
  const { version } = await makeModelVersion(t.db, { format: 'hf', location: dir });
  const spec = { engine: 'vllm' as const, tp: 1, maxModelLen: 8192 };
  const { deployment } = await makeDeployment(t.db, { name: 'llama-learn', engine: 'vllm', modelVersionId: version.id, spec });
  const claimFor = claimForDeployment(t.db);
  const place = async () => t.db.transaction(async (tx) => (await lockPlacement(tx), choosePlacement(tx, storedSpec(deployment), { policy: 'binpack', claimPerGpu: await claimFor(deployment, storedSpec(deployment)) })));

  const before = await place();
  expect(before.feasible).toBe(true);
  if (!before.feasible) return;
  expect(before.basis).toMatch(/^the estimate/);

  // The estimate thought ~15 GiB of weights; this start measured 40 (as an MoE the estimator misread would).
  const replica = await makeReplica(t.db, deployment.id, { nodeName: node.name, gpuIndices: [0], status: 'ready' });
  const recorded = await recordStartMeasurement(t.db, node.name, replica.id, parseVllmStartupLog(startLog(40)));
  const row = recorded!.row!;
  expect(row).toMatchObject({ tp: 1, pp: 1, dtype: 'auto', quantization: null, gpuName: H100, gpuMemoryTotalMiB: 81_559, logWording: 'v1', measuredKvCacheTokens: 163_840, measuredGpuBlocks: null, plannedFrom: 'estimate' });
  expect(row.measuredWeightsBytes! / GiB).toBeCloseTo(40, 2);
  expect(row.predictedWeightsBytes! / GiB).toBeGreaterThan(14);
  expect(row.predictedWeightsBytes! / GiB).toBeLessThan(16);
  expect(row.measuredMaxConcurrency).toBeCloseTo(20);
  expect(row.predictedMaxConcurrency).toBeGreaterThan(40);

  // Once per start: the same start reported again writes nothing; another node's agent cannot write it.
  expect(await recordStartMeasurement(t.db, node.name, replica.id, parseVllmStartupLog(startLog(1)))).toEqual({ row: null });
  expect(await recordStartMeasurement(t.db, 'another-node', replica.id, parseVllmStartupLog(startLog(1)))).toBeNull();

  const after = await place();
  expect(after.feasible).toBe(true);
  if (!after.feasible) return;
  expect(after.basis).toMatch(new RegExp(`^measured on \\d{4}-\\d{2}-\\d{2} start of llama-learn: weights 40.0 GiB per GPU`));
  // Measured weights, non-torch and graphs replace the estimate's; the KV cache of one 8192-token sequence (1 GiB) stays.
  expect((after.claimBytes - before.claimBytes) / GiB).toBeGreaterThan(20);
  expect(after.claimBytes / GiB).toBeCloseTo(40 + 0.35 + 1.24 + 0.31 + 1, 1);

  // The dry run plans the same way and says why.
  const dry = await dryRun(t.db, { modelVersionId: version.id, spec }, (id, s) => estimateForVersion(t.db, id, s));
  expect(dry.basis).toBe(after.basis);
});

it('a measurement holds for its own TP, dtype and GPU type only', async () => {
  const { version } = await makeModelVersion(t.db, { format: 'hf', location: dir });
  const a100 = await makeNode(t.db, { name: 'a100-a', gpuCount: 1, gpuName: 'NVIDIA A100-SXM4-80GB', memoryTotalMiB: 81_920 });
  const { deployment } = await makeDeployment(t.db, { name: 'llama-a100', engine: 'vllm', modelVersionId: version.id, spec: { engine: 'vllm', tp: 1, maxModelLen: 8192 } });
  const replica = await makeReplica(t.db, deployment.id, { nodeName: a100.name, gpuIndices: [0], status: 'ready' });
  await recordStartMeasurement(t.db, a100.name, replica.id, parseVllmStartupLog(startLog(30)));

  const spec = (over: Record<string, unknown>) => storedSpec({ engine: 'vllm', spec: { engine: 'vllm', maxModelLen: 8192, ...over }, desiredReplicas: 1 });
  const claimOf = async (over: Record<string, unknown>) => {
    const s = spec(over);
    return t.db.transaction(async (tx) => choosePlacement(tx, s, { policy: 'binpack', claimPerGpu: await claimForDeployment(t.db)({ modelVersionId: version.id }, s) }));
  };
  // The A100 measurement is used on the A100 (measured types are tried first); bfloat16 or TP 2 is another configuration.
  const same = await claimOf({ tp: 1, labels: {} });
  expect(same.feasible && same.node).toBe('a100-a');
  expect(same.feasible && same.basis).toMatch(/start of llama-a100: weights 30.0 GiB/);
  const otherDtype = await claimOf({ tp: 1, dtype: 'bfloat16' });
  expect(otherDtype.feasible && otherDtype.basis).toMatch(/^the estimate/);
  const otherTp = await claimOf({ tp: 2 });
  expect(otherTp.feasible && otherTp.basis).toMatch(/^the estimate/);
});

it('a start without a readable config still stores what vLLM measured', async () => {
  const node = await makeNode(t.db, { name: 'h100-b', gpuCount: 1, gpuName: H100 });
  const { version } = await makeModelVersion(t.db, { format: 'hf', location: '/nonexistent/model' });
  const { deployment } = await makeDeployment(t.db, { engine: 'vllm', modelVersionId: version.id, spec: { engine: 'vllm', tp: 1 } });
  const replica = await makeReplica(t.db, deployment.id, { nodeName: node.name, gpuIndices: [0], status: 'ready' });
  const recorded = await recordStartMeasurement(t.db, node.name, replica.id, parseVllmStartupLog(startLog(15)));
  expect(recorded!.row).toMatchObject({ predictedWeightsBytes: null, predictedKvCacheBytes: null, gpuName: H100 });
  expect(recorded!.row!.measuredWeightsBytes! / GiB).toBeCloseTo(15, 2);
});
