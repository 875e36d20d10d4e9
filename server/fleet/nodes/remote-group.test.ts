import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, eq, ne } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { deploymentReplicas, replicaMembers } from '../../db/schema';
import { parseEnv } from '../../core/env';
import { parseQueryGpu } from '../../gpu/nvidia-smi';
import { nvidiaSmiFixture } from '../../gpu/nvidia-smi/fixtures';
import type { Inventory } from '../../gpu/types';
import { registerVersion } from '../../lifecycle/catalog';
import { createDeployment, stopDeployment } from '../../lifecycle/deployments';
import { reconcileDeployment } from '../../lifecycle/reconcile';
import { isRunning } from '../../process/detached-process';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { until } from '../../testing/until';
import { reconcileOptions } from '../../../workers/deploy';
import { startAgent } from '../agent';
import { createJoinToken } from './join-tokens';
import { startRemoteAgent } from './remote-agent';

/**
 * A vLLM replica across a local agent and a joined (remote) agent that talks to the control plane over
 * the real agent API: the group's assignments, the head's rendezvous and the worker's reports all
 * cross HTTP. vLLM cannot run here: the vllm double plays both ranks.
 */
const VLLM_DOUBLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../engines/testing/bin/vllm');
const MASTER_KEY = randomBytes(32);
const SAVED = ['ENCLAVE_VLLM_BIN', 'VLLM_DOUBLE_LOAD_MS'].map((key) => [key, process.env[key]] as const);
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let deploymentId: string;
const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];
const opts = () => reconcileOptions(t.db, { claimFor: async () => () => 30 * 1024 ** 3, backoff: { baseMs: 200, maxMs: 200 } });
const oneH100 = async (): Promise<Inventory> => ({ gpus: parseQueryGpu(nvidiaSmiFixture('query-gpu/h100-80gb-mig-driver590.csv')), topology: null, processes: null });
const tmp = (name: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `enclave-rg-${name}-`));
  dirs.push(dir);
  return dir;
};

beforeAll(async () => {
  process.env.ENCLAVE_VLLM_BIN = VLLM_DOUBLE;
  process.env.VLLM_DOUBLE_LOAD_MS = '200';
  t = await createTestDatabase('remotegroup');
  api = await startApiTestServer({ db: t.db, masterKey: MASTER_KEY });
  const modelDir = tmp('model');
  fs.writeFileSync(path.join(modelDir, 'config.json'), JSON.stringify({ num_hidden_layers: 32, num_attention_heads: 32, hidden_size: 4096, torch_dtype: 'bfloat16' }));
  const version = await registerVersion(t.db, { modelName: 'remote-pp', format: 'hf', location: modelDir });
  deploymentId = (await createDeployment(t.db, null, { name: 'remote-pp', modelVersionId: version.id, spec: { engine: 'vllm', tp: 1, pp: 2, replicas: 1 } })).id;
  const local = await startAgent(t.db, parseEnv({ ENCLAVE_DATA_DIR: tmp('local'), ENCLAVE_ENGINE_HOST: '127.0.0.1' }), { masterKey: MASTER_KEY, nodeName: 'local-gpu', pollMs: 150, heartbeatMs: 60_000, inventory: oneH100 });
  stops.push(() => local.stop());
  const { token } = await createJoinToken(t.db);
  const remote = await startRemoteAgent(parseEnv({ ENCLAVE_DATA_DIR: tmp('remote'), ENCLAVE_ENGINE_HOST: '127.0.0.1' }), { joinUrl: api.base, token, nodeName: 'remote-gpu', pollMs: 150, heartbeatMs: 60_000, inventory: oneH100 });
  stops.push(() => remote.stop());
});

afterAll(async () => {
  if (t) await stopDeployment(t.db, null, deploymentId).then(() => reconcileDeployment(t.db, deploymentId, opts())).catch(() => undefined);
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await api?.close();
  await t?.drop();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  for (const [key, value] of SAVED)
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
});

const group = async (generation: number) =>
  until(
    `the group (start ${generation}) to be ready`,
    async () => {
      await reconcileDeployment(t.db, deploymentId, opts());
      const [head] = await t.db.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, deploymentId), ne(deploymentReplicas.status, 'stopped')));
      if (head?.status !== 'ready' || head.restarts !== generation) return false;
      const [member] = await t.db.select().from(replicaMembers).where(and(eq(replicaMembers.replicaId, head.id), eq(replicaMembers.generation, generation)));
      return !!member?.pid && { head, member };
    },
    90_000,
    250,
  );

it('runs one replica across a local and a joined agent, and restarts it whole when its worker is killed', async () => {
  const first = await group(0);
  expect(new Set([first.head.nodeName, first.member.nodeName])).toEqual(new Set(['local-gpu', 'remote-gpu']));
  expect(first.head.rendezvous).toMatch(/^mp:\/\/127\.0\.0\.1:\d+$/);
  expect(first.member).toMatchObject({ rank: 1, status: 'starting', gpuIndices: [0] });
  expect(first.member.logPath).toContain(first.member.id);
  process.kill(first.member.pid!, 'SIGKILL');
  const second = await group(1);
  expect(second.head.id).toBe(first.head.id);
  expect(isRunning(first.head.pid!)).toBe(false);
  const [old] = await t.db.select().from(replicaMembers).where(eq(replicaMembers.id, first.member.id));
  expect(old!.status).toBe('stopped');
}, 150_000);
