import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, eq, ne } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploymentReplicas, deployments, replicaStartMeasurements } from '../db/schema';
import { parseEnv } from '../core/env';
import { startGatewayHarness, type GatewayHarness } from '../gateway/testing/harness';
import { registerVersion } from '../lifecycle/catalog';
import { createDeployment, getDeployment } from '../lifecycle/deployments';
import { DEFAULT_RECONCILE, reconcileDeployment, type ReconcileOptions } from '../lifecycle/reconcile';
import { makeNode } from '../testing/factories';
import { until } from '../testing/until';
import { isRunning } from '../process/detached-process';
import { startAgent, type AgentRole } from './agent';

/**
 * Part 5 of issue 11: TGI and SGLang go the way vLLM replicas go. A deployment of each is placed on a
 * GPU node by the real reconcile (real PostgreSQL), run by the real agent with the driver's real command
 * line against the engine's executable double, reported ready by the driver's probe, and answers a chat
 * completion sent through the real gateway with an API key.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const DOUBLES = { ENCLAVE_TGI_BIN: path.resolve(here, '../engines/testing/bin/text-generation-launcher'), ENCLAVE_SGLANG_PYTHON: path.resolve(here, '../engines/testing/bin/sglang-python') };
const LOAD = { TGI_DOUBLE_LOAD_MS: '200', SGLANG_DOUBLE_LOAD_MS: '200' };
const NODE = 'gpu-more-engines';
const GiB = 1024 ** 3;
const saved = Object.fromEntries(Object.keys({ ...DOUBLES, ...LOAD }).map((k) => [k, process.env[k]]));
// The claim is the estimator's business (tested there); the reconcile, placement and allocation are real.
const opts: ReconcileOptions = { ...DEFAULT_RECONCILE, backoff: { baseMs: 200, maxMs: 200 }, claimFor: async () => (tp: number) => (20 * GiB) / tp, probe: async () => 'loading' };

let h: GatewayHarness;
let dataDir: string;
let agent: AgentRole | undefined;
let versionId: string;

beforeAll(async () => {
  Object.assign(process.env, DOUBLES, LOAD);
  h = await startGatewayHarness('moreengines');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-more-engines-'));
  fs.writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ num_hidden_layers: 28, num_attention_heads: 28, hidden_size: 3584, torch_dtype: 'bfloat16' }));
  versionId = (await registerVersion(h.t.db, { modelName: 'qwen-like', format: 'hf', location: dataDir })).id;
  await makeNode(h.t.db, { name: NODE, gpuCount: 2 });
});
afterAll(async () => {
  await agent?.stop();
  const rows = await h.t.db.select().from(deploymentReplicas);
  for (const r of rows) if (r.pid && isRunning(r.pid)) process.kill(r.pid, 'SIGKILL');
  await h?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  for (const [key, value] of Object.entries(saved))
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
});

const active = (deploymentId: string) =>
  h.t.db.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, deploymentId), ne(deploymentReplicas.status, 'stopped')));

it('places a TGI (TP 2) and an SGLang replica on the GPU node, runs them, and serves a chat completion to each through the gateway', async () => {
  const tgi = await createDeployment(h.t.db, null, { name: 'qwen-tgi', modelVersionId: versionId, spec: { engine: 'tgi', tp: 2, maxModelLen: 4096 } });
  const sglang = await createDeployment(h.t.db, null, { name: 'qwen-sglang', modelVersionId: versionId, spec: { engine: 'sglang', tp: 1, gpuMemoryUtilization: 0.4 } });
  // TGI's two shards take both GPUs at 20 GiB / 2 each; SGLang's 20 GiB still fits beside them.
  await reconcileDeployment(h.t.db, tgi.id, opts);
  await reconcileDeployment(h.t.db, sglang.id, opts);
  const [placedTgi] = await active(tgi.id);
  const [placedSglang] = await active(sglang.id);
  expect([placedTgi!.nodeName, placedTgi!.gpuIndices]).toEqual([NODE, [0, 1]]);
  expect(placedSglang!.nodeName).toBe(NODE);
  expect(placedSglang!.gpuIndices).toHaveLength(1);

  agent = await startAgent(h.t.db, parseEnv({ ENCLAVE_DATA_DIR: dataDir }), { masterKey: h.masterKey, nodeName: NODE, pollMs: 200, heartbeatMs: 60_000, inventory: async () => ({ gpus: [], topology: null, processes: null }) });
  for (const id of [tgi.id, sglang.id]) {
    await until(`${id} ready`, async () => {
      await reconcileDeployment(h.t.db, id, opts);
      const [row] = await h.t.db.select().from(deployments).where(eq(deployments.id, id));
      return row!.status === 'ready';
    }, 20_000);
  }

  // Each engine got its GPUs, and neither its secret nor anything of Enclave's on its command line or environment.
  const [tgiRow] = await active(tgi.id);
  const tgiEnv = fs.readFileSync(`/proc/${tgiRow!.pid}/environ`, 'utf8').split('\0');
  expect(tgiEnv).toContain('CUDA_VISIBLE_DEVICES=0,1');
  expect(tgiEnv.some((v) => v.startsWith('API_KEY=enc-replica-'))).toBe(true);
  expect(tgiEnv.some((v) => v.startsWith('ENCLAVE_'))).toBe(false);
  const [sglangRow] = await active(sglang.id);
  expect(fs.readFileSync(`/proc/${sglangRow!.pid}/cmdline`, 'utf8')).not.toContain('enc-replica-');

  await h.gateway.refresh();
  const { key } = await h.keyFor();
  for (const model of ['qwen-tgi', 'qwen-sglang']) {
    const res = await h.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'one two three' }], max_tokens: 3 }, key);
    expect(res.status, await res.clone().text()).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
    expect(body.usage.completion_tokens).toBe(3);
  }

  // SGLang's start is measured from its log, as vLLM's is; TGI prints no such figures.
  const measured = await until('the SGLang start measured', async () => (await h.t.db.select().from(replicaStartMeasurements)).find((m) => m.engine === 'sglang'));
  expect(measured).toMatchObject({ measuredWeightsBytes: Math.round(15.2 * GiB), tp: 1 });
  expect((await h.t.db.select().from(replicaStartMeasurements)).some((m) => m.engine === 'tgi')).toBe(false);

  // The deployment page reads each engine's load with its own metric names.
  for (const id of [tgi.id, sglang.id]) {
    const view = await getDeployment(h.t.db, id);
    expect(view.replicas.find((r) => r.status === 'ready')?.load, id).toMatchObject({ running: 0, waiting: 0, promptTokensTotal: 3, generationTokensTotal: 3 });
  }
});

it('refuses a spec the engine cannot run, in its words, when it is saved', async () => {
  await expect(createDeployment(h.t.db, null, { name: 'bad-tgi', modelVersionId: versionId, spec: { engine: 'tgi', pp: 2 } })).rejects.toThrow(/spec: TGI has no pipeline parallelism/);
  await expect(createDeployment(h.t.db, null, { name: 'bad-sglang', modelVersionId: versionId, spec: { engine: 'sglang', extraArgs: ['--api-key', 'x'] } })).rejects.toThrow(/'--api-key' is set from the deployment spec/);
});
