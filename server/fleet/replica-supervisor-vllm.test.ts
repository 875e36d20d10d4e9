import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploymentReplicas } from '../db/schema';
import { replicaAuthorization } from '../engines/replica-secret';
import { parseEnv } from '../core/env';
import { startAgent, type AgentRole } from './agent';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeDeployment, makeModelVersion, makeReplica } from '../testing/factories';
import { until } from '../testing/until';
import { isAlive } from '../process/detached-process';

/** vLLM cannot run here: the agent runs the vllm driver's real command line against the executable double. */
const VLLM_DOUBLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../engines/testing/bin/vllm');

let t: TestDatabase;
let dataDir: string;
let agent: AgentRole;
let deploymentId: string;
const MASTER_KEY = randomBytes(32);
const saved = { bin: process.env.ENCLAVE_VLLM_BIN, fail: process.env.VLLM_DOUBLE_FAIL, load: process.env.VLLM_DOUBLE_LOAD_MS };

beforeAll(async () => {
  process.env.ENCLAVE_VLLM_BIN = VLLM_DOUBLE;
  process.env.VLLM_DOUBLE_LOAD_MS = '300';
  t = await createTestDatabase('agentvllm');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-agent-vllm-'));
  const { version } = await makeModelVersion(t.db, { modelName: 'llama-double', format: 'hf', location: 'meta-llama/Llama-3.1-8B-Instruct' });
  const { deployment } = await makeDeployment(t.db, { name: 'llama-double', modelVersionId: version.id, engine: 'vllm', status: 'pending', spec: { engine: 'vllm', tp: 2 } });
  deploymentId = deployment.id;
  agent = await startAgent(t.db, parseEnv({ ENCLAVE_DATA_DIR: dataDir }), { masterKey: MASTER_KEY, nodeName: 'gpu-node', pollMs: 200, heartbeatMs: 60_000, inventory: async () => ({ gpus: [], topology: null, processes: null }) });
});
afterAll(async () => {
  await agent?.stop();
  await t.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  for (const [key, value] of [['ENCLAVE_VLLM_BIN', saved.bin], ['VLLM_DOUBLE_FAIL', saved.fail], ['VLLM_DOUBLE_LOAD_MS', saved.load]] as const)
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
});

const settled = (id: string) =>
  until('the replica to be ready or failed', async () => {
    const [row] = await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.id, id));
    return (row!.status === 'ready' || row!.status === 'failed') && row!;
  });
const assign = async () => (await makeReplica(t.db, deploymentId, { nodeName: 'gpu-node', gpuIndices: [2, 3] })).id;

it('runs a placed vLLM replica on its GPUs and reports it ready once /v1/models lists it', async () => {
  const row = await settled(await assign());
  expect(row.status).toBe('ready');
  const listed = (await (await fetch(`${row.url}/v1/models`, { headers: { authorization: replicaAuthorization(MASTER_KEY, row.id) } })).json()) as { data: { id: string }[] };
  expect(listed.data.map((m) => m.id)).toContain('llama-double');
  const environ = fs.readFileSync(`/proc/${row.pid}/environ`, 'utf8').split('\0');
  expect(environ).toContain('CUDA_VISIBLE_DEVICES=2,3');
  expect(environ.some((v) => v.startsWith('ENCLAVE_'))).toBe(false);
});

it('explains a vLLM start that runs out of GPU memory, from its log', async () => {
  process.env.VLLM_DOUBLE_FAIL = 'oom';
  try {
    const row = await settled(await assign());
    expect(row.status).toBe('failed');
    expect(row.lastError).toMatch(/^engine exited with code 1: The GPU ran out of memory while starting/);
    expect(isAlive(row.pid!)).toBe(false);
  } finally {
    delete process.env.VLLM_DOUBLE_FAIL;
  }
});
