import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploymentReplicas, deployments, models, modelVersions } from '../db/schema';
import { parseEnv } from '../env';
import { startAgent, type AgentRole } from '../roles/agent';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { isAlive } from './detached-process';

/** vLLM cannot run here: the agent runs the vllm driver's real command line against the executable double. */
const VLLM_DOUBLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../engines/testing/bin/vllm');

let t: TestDatabase;
let dataDir: string;
let agent: AgentRole;
let deploymentId: string;
const saved = { bin: process.env.ENCLAVE_VLLM_BIN, fail: process.env.VLLM_DOUBLE_FAIL, load: process.env.VLLM_DOUBLE_LOAD_MS };

beforeAll(async () => {
  process.env.ENCLAVE_VLLM_BIN = VLLM_DOUBLE;
  process.env.VLLM_DOUBLE_LOAD_MS = '300';
  t = await createTestDatabase('agentvllm');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-agent-vllm-'));
  const [model] = await t.db.insert(models).values({ name: 'llama-double' }).returning();
  const [version] = await t.db.insert(modelVersions).values({ modelId: model!.id, version: 'v1', format: 'hf', location: 'meta-llama/Llama-3.1-8B-Instruct' }).returning();
  const [dep] = await t.db.insert(deployments).values({ name: 'llama-double', modelVersionId: version!.id, engine: 'vllm', spec: { engine: 'vllm', tp: 2 } }).returning();
  deploymentId = dep!.id;
  agent = await startAgent(t.db, parseEnv({ ENCLAVE_DATA_DIR: dataDir }), { nodeName: 'gpu-node', pollMs: 200, heartbeatMs: 60_000, inventory: async () => ({ gpus: [], topology: null, processes: null }) });
});
afterAll(async () => {
  await agent?.stop();
  await t.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  for (const [key, value] of [['ENCLAVE_VLLM_BIN', saved.bin], ['VLLM_DOUBLE_FAIL', saved.fail], ['VLLM_DOUBLE_LOAD_MS', saved.load]] as const)
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
});

async function settled(id: string) {
  for (let i = 0; i < 300; i++) {
    const [row] = await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.id, id));
    if (row!.status === 'ready' || row!.status === 'failed') return row!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('replica never settled');
}
const assign = async () => (await t.db.insert(deploymentReplicas).values({ deploymentId, nodeName: 'gpu-node', gpuIndices: [2, 3], url: '', status: 'starting' }).returning())[0]!.id;

it('runs a placed vLLM replica on its GPUs and reports it ready once /v1/models lists it', async () => {
  const row = await settled(await assign());
  expect(row.status).toBe('ready');
  const listed = (await (await fetch(`${row.url}/v1/models`)).json()) as { data: { id: string }[] };
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
