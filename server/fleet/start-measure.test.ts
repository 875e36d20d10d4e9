import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, eq, ne } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploymentEvents, deploymentReplicas, deployments, replicaStartMeasurements } from '../db/schema';
import { parseEnv } from '../core/env';
import { claimForDeployment } from '../gpu/placement/model-config';
import { estimateErrors, listStartMeasurements } from '../gpu/placement/measurement-views';
import { DEFAULT_RECONCILE, reconcileDeployment } from '../lifecycle/reconcile';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeDeployment, makeModelVersion } from '../testing/factories';
import { until } from '../testing/until';
import type { GpuInfo } from '../gpu/types';
import { startAgent, type AgentRole } from './agent';
import { logSize, measureStart } from './start-measure';

/**
 * The learning loop end to end, with vLLM's TEST DOUBLE (it prints vLLM V1's start-up figures derived from
 * its settings): the real reconcile places a replica on an H100 node, the agent runs the double, the
 * replica turns ready, the agent reads the start-up log and the measurement is stored beside the
 * prediction; the next deployment of the same version plans with the measured figures and says so.
 */
const VLLM_DOUBLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../engines/testing/bin/vllm');
const NODE = 'measure-node';
const H100: GpuInfo = { index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: null, memoryTotalMiB: 81_559, memoryUsedMiB: 0, utilizationPct: 0, temperatureC: 30, powerW: 70 };
const GiB = 1024 ** 3;
let t: TestDatabase;
let dataDir: string;
let modelDir: string;
let agent: AgentRole;
const saved = { bin: process.env.ENCLAVE_VLLM_BIN, load: process.env.VLLM_DOUBLE_LOAD_MS };

beforeAll(async () => {
  process.env.ENCLAVE_VLLM_BIN = VLLM_DOUBLE;
  process.env.VLLM_DOUBLE_LOAD_MS = '200';
  t = await createTestDatabase('startmeasure');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-measure-'));
  modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-measure-model-'));
  fs.copyFileSync(path.join(import.meta.dirname, '../gpu/estimator/configs/meta-llama-3-8b.json'), path.join(modelDir, 'config.json'));
  agent = await startAgent(t.db, parseEnv({ ENCLAVE_DATA_DIR: dataDir }), {
    masterKey: randomBytes(32),
    nodeName: NODE,
    pollMs: 200,
    heartbeatMs: 60_000,
    inventory: async () => ({ gpus: [H100, { ...H100, index: 1 }], topology: null, processes: null }),
  });
});
afterAll(async () => {
  await agent?.stop();
  await t.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(modelDir, { recursive: true, force: true });
  for (const [key, value] of [['ENCLAVE_VLLM_BIN', saved.bin], ['VLLM_DOUBLE_LOAD_MS', saved.load]] as const)
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
});

const reconcile = (id: string) => reconcileDeployment(t.db, id, { ...DEFAULT_RECONCILE, claimFor: claimForDeployment(t.db), probe: async () => 'loading' });

it('a vLLM start is measured from its log, stored beside the prediction, shown, and taught to the next plan', async () => {
  const { version } = await makeModelVersion(t.db, { modelName: 'llama3-8b', format: 'hf', location: modelDir });
  const spec = { engine: 'vllm', tp: 1, maxModelLen: 8192 };
  const { deployment } = await makeDeployment(t.db, { name: 'llama-first', engine: 'vllm', status: 'pending', modelVersionId: version.id, spec });
  await reconcile(deployment.id);
  const placed = await t.db.select().from(deploymentEvents).where(and(eq(deploymentEvents.deploymentId, deployment.id), eq(deploymentEvents.kind, 'scale')));
  expect(placed[0]!.message).toMatch(/placed on measure-node GPUs 0, claiming [\d.]+ GiB per GPU from the estimate/);

  const row = await until('the start measurement', async () => (await t.db.select().from(replicaStartMeasurements).where(eq(replicaStartMeasurements.deploymentId, deployment.id)))[0], 30_000);
  const [replica] = await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.deploymentId, deployment.id));
  expect(replica!.status).toBe('ready');
  expect(row).toMatchObject({ replicaId: replica!.id, nodeName: NODE, gpuName: H100.name, tp: 1, pp: 1, maxModelLen: 8192, logWording: 'v1', engineVersion: '0.0.0+double', plannedFrom: 'estimate' });
  // The double derives Llama-3-8B's figures as vLLM would: ~14.96 GiB of weights, 0.9 x 79.19 GiB less those, 16-token blocks.
  expect(row.measuredWeightsBytes! / GiB).toBeCloseTo(14.96, 1);
  expect(row.measuredKvCacheTokens! % 16).toBe(0);
  expect(row.measuredMaxConcurrency).toBeCloseTo(row.measuredKvCacheTokens! / 8192, 2);
  expect(row.claimBytes).toBeGreaterThan(15 * GiB);
  // The estimate and the double agree on a dense 8B model to within a few percent.
  expect(Math.abs(row.predictedWeightsBytes! / row.measuredWeightsBytes! - 1)).toBeLessThan(0.03);

  // Shown: the deployment's panel and the fleet's error table read it back.
  const shown = await listStartMeasurements(t.db, deployment.id);
  expect(shown).toHaveLength(1);
  const errors = await estimateErrors(t.db);
  expect(errors).toEqual([expect.objectContaining({ model: 'llama3-8b:v1', tp: 1, gpuName: H100.name, starts: 1, deployment: 'llama-first' })]);
  expect(Math.abs(errors[0]!.weightsErrorPct!)).toBeLessThan(3);

  // The next deployment of the same version, dtype, TP and GPU type plans with what was measured.
  const { deployment: second } = await makeDeployment(t.db, { name: 'llama-second', engine: 'vllm', status: 'pending', modelVersionId: version.id, spec });
  await reconcile(second.id);
  const [event] = await t.db.select().from(deploymentEvents).where(and(eq(deploymentEvents.deploymentId, second.id), eq(deploymentEvents.kind, 'scale')));
  expect(event!.message).toMatch(/placed on measure-node GPUs \d, claiming [\d.]+ GiB per GPU from measured on \d{4}-\d{2}-\d{2} start of llama-first: weights 15.0 GiB per GPU/);
  const secondRow = await until('the second start measurement', async () => (await t.db.select().from(replicaStartMeasurements).where(eq(replicaStartMeasurements.deploymentId, second.id)))[0], 30_000);
  expect(secondRow.plannedFrom).toMatch(/^measured on .* start of llama-first$/);
  const active = await t.db.select().from(deploymentReplicas).where(ne(deploymentReplicas.status, 'stopped'));
  expect(active).toHaveLength(2);
  await t.db.update(deployments).set({ status: 'stopped' });
});

it('reads only this start from a log that a restart appended to, and nothing from an engine without figures', () => {
  const log = path.join(dataDir, 'appended.log');
  fs.writeFileSync(log, 'INFO 01-01 00:00:00 [gpu_model_runner.py:1291] Model loading took 70.0000 GiB and 1.0 seconds\n');
  const offset = logSize(log);
  fs.appendFileSync(log, 'INFO 01-01 00:05:00 [gpu_model_runner.py:1291] Model loading took 14.9570 GiB and 1.0 seconds\n');
  expect(measureStart('vllm', log, offset)!.weightsBytes! / GiB).toBeCloseTo(14.957, 3);
  // Without an offset (an adopted process): from the last start banner on, or the whole log without one.
  expect(measureStart('vllm', log)!.weightsBytes! / GiB).toBe(70);
  fs.appendFileSync(log, 'INFO 01-01 00:10:00 [api_server.py:1043] vLLM API server version 0.8.5\nINFO 01-01 00:10:30 [gpu_model_runner.py:1291] Model loading took 7.5000 GiB and 1.0 seconds\n');
  expect(measureStart('vllm', log)).toMatchObject({ version: '0.8.5', weightsBytes: 7.5 * GiB });
  expect(measureStart('llamacpp', log, 0)).toBeNull();
  expect(measureStart('vllm', path.join(dataDir, 'missing.log'))).toBeNull();
  expect(logSize(path.join(dataDir, 'missing.log'))).toBe(0);
});
