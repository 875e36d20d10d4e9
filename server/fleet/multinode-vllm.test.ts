import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, eq, ne } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploymentEvents, deploymentReplicas, deployments, gpuNodes, replicaMembers } from '../db/schema';
import { parseEnv } from '../core/env';
import { parseQueryGpu } from '../gpu/nvidia-smi';
import { nvidiaSmiFixture } from '../gpu/nvidia-smi/fixtures';
import type { Inventory } from '../gpu/types';
import { replicaAuthorization } from '../engines/replica-secret';
import { registerVersion } from '../lifecycle/catalog';
import { createDeployment, getDeployment, startDeployment, stopDeployment } from '../lifecycle/deployments';
import { reconcileDeployment } from '../lifecycle/reconcile';
import { dryRun } from '../gpu/placement/dry-run';
import { isRunning, commandLineOf } from '../process/detached-process';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { until } from '../testing/until';
import { reconcileOptions } from '../../workers/deploy';
import { registerNode } from './nodes/register';
import { recordHeartbeat } from './nodes/heartbeat';
import { startAgent, type AgentRole } from './agent';

/**
 * One vLLM replica across two hosts (TP 2 x PP 2), run by two agents on this machine with the vllm
 * double (vLLM cannot run here): each agent has its own node name, data directory and GPUs (two H100s
 * from a real nvidia-smi capture). The double's head waits for its worker on the master port before it
 * serves, dies when the worker drops, and the worker dies with the head, as vLLM's ranks do.
 */
const DOUBLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../engines/testing/bin');
const MASTER_KEY = randomBytes(32);
const GiB = 1024 ** 3;
const SAVED = ['ENCLAVE_VLLM_BIN', 'ENCLAVE_RAY_BIN', 'VLLM_DOUBLE_LOAD_MS', 'VLLM_DOUBLE_JOIN_TIMEOUT_MS'].map((key) => [key, process.env[key]] as const);

let t: TestDatabase;
let deploymentId: string;
let modelDir: string;
let versionId: string;
const agents = new Map<string, AgentRole>();
const dataDirs = new Map<string, string>();
const opts = () => reconcileOptions(t.db, { claimFor: async () => () => 30 * GiB, backoff: { baseMs: 200, maxMs: 200 }, giveUpAfter: 5 });

/** Two H100s as nvidia-smi reports them (the real capture's one GPU at indices 0 and 1). */
function inventory(node: string): Inventory {
  const [gpu] = parseQueryGpu(nvidiaSmiFixture('query-gpu/h100-80gb-mig-driver590.csv'));
  return { gpus: [0, 1].map((index) => ({ ...gpu!, index, uuid: `GPU-${node}-${index}` })), topology: null, processes: null };
}

async function startNodeAgent(node: string, multinode: 'mp' | 'ray' = 'mp'): Promise<AgentRole> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `enclave-mn-${node}-`));
  dataDirs.set(`${node}-${multinode}`, dataDir);
  const agent = await startAgent(t.db, parseEnv({ ENCLAVE_DATA_DIR: dataDir, ENCLAVE_ENGINE_HOST: '127.0.0.1', ENCLAVE_VLLM_MULTINODE: multinode }), {
    masterKey: MASTER_KEY,
    nodeName: node,
    pollMs: 150,
    heartbeatMs: 60_000,
    startTimeoutMs: 60_000,
    inventory: async () => inventory(node),
  });
  agents.set(node, agent);
  return agent;
}

beforeAll(async () => {
  process.env.ENCLAVE_VLLM_BIN = path.join(DOUBLES, 'vllm');
  process.env.ENCLAVE_RAY_BIN = path.join(DOUBLES, 'ray');
  process.env.VLLM_DOUBLE_LOAD_MS = '200';
  process.env.VLLM_DOUBLE_JOIN_TIMEOUT_MS = '60000';
  t = await createTestDatabase('multinode');
  modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-mn-model-'));
  fs.writeFileSync(path.join(modelDir, 'config.json'), JSON.stringify({ num_hidden_layers: 32, num_attention_heads: 32, hidden_size: 4096, torch_dtype: 'bfloat16' }));
  const version = await registerVersion(t.db, { modelName: 'llama-70b-like', format: 'hf', location: modelDir });
  for (const node of ['node-a', 'node-b']) await registerNode(t.db, { name: node, labels: {}, ...inventory(node), driverVersion: null, cudaVersion: null });
  versionId = version.id;
  deploymentId = (await createDeployment(t.db, null, { name: 'llama-pp', modelVersionId: version.id, spec: { engine: 'vllm', tp: 2, pp: 2, replicas: 1 } })).id;
});

afterAll(async () => {
  if (t) {
    await stopDeployment(t.db, null, deploymentId).catch(() => undefined);
    await reconcileDeployment(t.db, deploymentId, opts()).catch(() => undefined);
  }
  for (const agent of agents.values()) await agent.stop().catch(() => undefined);
  await t?.drop();
  for (const dir of [...dataDirs.values(), modelDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  for (const [key, value] of SAVED)
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
});

const replica = async () => (await t.db.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, deploymentId), ne(deploymentReplicas.status, 'stopped'))))[0];
const membersOf = (replicaId: string) => t.db.select().from(replicaMembers).where(eq(replicaMembers.replicaId, replicaId)).orderBy(replicaMembers.generation, replicaMembers.rank);
const events = async () => (await t.db.select().from(deploymentEvents).where(eq(deploymentEvents.deploymentId, deploymentId)).orderBy(deploymentEvents.id)).map((e) => `${e.kind}: ${e.message}`);
const environOf = (pid: number) => fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
const logOf = (file: string) => fs.readFileSync(file, 'utf8');

/** Reconciles (as the deploy sweep does) until `probe` holds. */
const reconcileUntil = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 90_000) =>
  until(
    what,
    async () => {
      await reconcileDeployment(t.db, deploymentId, opts());
      return probe();
    },
    timeoutMs,
    250,
  );

/** The running group: head row ready, its current member running, both processes alive. */
async function readyGroup(generation: number) {
  return reconcileUntil(`the group (start ${generation}) to be ready`, async () => {
    const r = await replica();
    if (r?.status !== 'ready' || r.restarts !== generation) return false;
    const member = (await membersOf(r.id)).find((m) => m.generation === generation);
    const [dep] = await t.db.select().from(deployments).where(eq(deployments.id, deploymentId));
    return !!member?.pid && dep!.status === 'ready' && { head: r, member };
  });
}

it("the dry run shows a PP 2 vLLM deployment on two hosts, the head's first", async () => {
  const zero = { weightsBytes: 0, kvCacheBytes: 0, activationBytes: 0, overheadBytes: 0 };
  const plan = await dryRun(t.db, { modelVersionId: versionId, spec: { engine: 'vllm', tp: 2, pp: 2 } }, async () => ({
    claimPerGpu: () => 30 * GiB,
    breakdown: () => ({ perGpu: { ...zero, weightsBytes: 30 * GiB }, maxConcurrentSequences: null }),
  }));
  expect(plan).toMatchObject({ feasible: true, tp: 2, pp: 2 });
  expect(plan.placements.map((p) => p.gpus)).toEqual([[0, 1], [0, 1]]);
  expect(new Set(plan.placements.map((p) => p.node))).toEqual(new Set(['node-a', 'node-b']));
});

it('places one replica on two hosts; the head starts first, the worker joins, and only then is the replica ready', async () => {
  await reconcileDeployment(t.db, deploymentId, opts());
  const placed = (await replica())!;
  const [member] = await membersOf(placed.id);
  expect(placed).toMatchObject({ status: 'starting', gpuIndices: [0, 1], rendezvous: null });
  expect(member).toMatchObject({ rank: 1, generation: 0, status: 'starting', gpuIndices: [0, 1], pid: null });
  expect(new Set([placed.nodeName, member!.nodeName])).toEqual(new Set(['node-a', 'node-b']));
  expect((await events()).find((e) => e.startsWith('scale: '))).toMatch(new RegExp(`placed on ${placed.nodeName} GPUs 0,1 \\+ ${member!.nodeName} GPUs 0,1 \\(rank 1\\)`));

  // The worker's host comes up first: its agent waits for the head instead of dialling a closed port.
  await startNodeAgent(member!.nodeName);
  await new Promise((r) => setTimeout(r, 1_500));
  expect((await membersOf(placed.id))[0]!.pid).toBeNull();

  // Watch the rows while the group forms: the worker starts only after the head published where it
  // listens, and the replica is never ready while its worker has not joined.
  const seen: string[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const r = (await replica())!;
      const m = (await membersOf(r.id))[0]!;
      seen.push(`${r.status}/${r.rendezvous ? 'listening' : 'closed'}/${m.pid ? 'worker' : 'no-worker'}`);
      await new Promise((res) => setTimeout(res, 30));
    }
  })();
  await startNodeAgent(placed.nodeName!);
  const { head, member: worker } = await readyGroup(0);
  watching = false;
  await watcher;
  expect(seen).toContain('starting/closed/no-worker');
  expect(seen.at(-1)).toBe('ready/listening/worker');
  expect(seen.filter((s) => s.endsWith('/worker') && s.includes('/closed/'))).toEqual([]);
  expect(seen.filter((s) => s.startsWith('ready/') && s.endsWith('/no-worker'))).toEqual([]);

  // The head: rank 0, API on the replica's port, its GPUs, the replica's secret; the worker: headless rank 1.
  const masterPort = /^mp:\/\/127\.0\.0\.1:(\d+)$/.exec(head.rendezvous!)![1]!;
  const headArgs = commandLineOf(head.pid!)!;
  const headCmd = headArgs.slice(headArgs.indexOf('serve'));
  expect(headCmd).toEqual([
    'serve', modelDir, '--host', '127.0.0.1', '--port', String(head.port), '--served-model-name', 'llama-pp', '--tensor-parallel-size', '2', '--pipeline-parallel-size', '2',
    '--dtype', 'auto', '--gpu-memory-utilization', '0.9', '--distributed-executor-backend', 'mp', '--nnodes', '2', '--node-rank', '0', '--master-addr', '127.0.0.1', '--master-port', masterPort,
  ]);
  const workerArgs = commandLineOf(worker.pid!)!;
  expect(workerArgs.slice(workerArgs.indexOf('serve'))).toEqual([
    'serve', modelDir, '--served-model-name', 'llama-pp', '--tensor-parallel-size', '2', '--pipeline-parallel-size', '2', '--dtype', 'auto', '--gpu-memory-utilization', '0.9',
    '--distributed-executor-backend', 'mp', '--nnodes', '2', '--node-rank', '1', '--master-addr', '127.0.0.1', '--master-port', masterPort, '--headless',
  ]);
  const headEnv = environOf(head.pid!);
  const workerEnv = environOf(worker.pid!);
  expect(headEnv).toEqual(expect.arrayContaining(['CUDA_VISIBLE_DEVICES=0,1', 'CUDA_DEVICE_ORDER=PCI_BUS_ID', 'VLLM_HOST_IP=127.0.0.1']));
  expect(workerEnv).toEqual(expect.arrayContaining(['CUDA_VISIBLE_DEVICES=0,1', 'CUDA_DEVICE_ORDER=PCI_BUS_ID', 'VLLM_HOST_IP=127.0.0.1']));
  expect(headEnv.filter((v) => v.startsWith('VLLM_API_KEY='))).toHaveLength(1);
  expect(workerEnv.some((v) => v.startsWith('VLLM_API_KEY='))).toBe(false);

  // The deployment page's view: one replica, at the head's URL, with its other host under it.
  const detail = await getDeployment(t.db, deploymentId);
  expect(detail.replicas.filter((r) => r.status !== 'stopped').map((r) => ({ node: r.nodeName, url: r.url, members: r.members }))).toEqual([
    { node: head.nodeName, url: head.url, members: [{ rank: 1, nodeName: worker.nodeName, gpuIndices: [0, 1], status: 'starting' }] },
  ]);

  // The engine URL is the head's, guarded by the replica's secret.
  const models = await fetch(`${head.url}/v1/models`, { headers: { authorization: replicaAuthorization(MASTER_KEY, head.id) } });
  expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(['llama-pp']);
  expect((await fetch(`${head.url}/v1/models`)).status).toBe(401);

  // The head's own log: it waited, the worker joined, and only then did it load and serve.
  const log = logOf(head.logPath!);
  const order = ['waiting for 1 more node(s)', 'node rank 1 joined', 'Starting to load model', 'Uvicorn running'].map((s) => log.indexOf(s));
  expect(order.every((i) => i >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
}, 150_000);

it('kill -9 of the worker fails the whole group as one replica and restarts it whole', async () => {
  const before = await readyGroup(0);
  process.kill(before.member.pid!, 'SIGKILL');
  const after = await readyGroup(1);
  // One replica row throughout, restarted once; the earlier start's processes are all gone.
  expect(after.head.id).toBe(before.head.id);
  expect(isRunning(before.head.pid!)).toBe(false);
  expect(isRunning(before.member.pid!)).toBe(false);
  const members = await membersOf(after.head.id);
  expect(members.map((m) => `${m.generation}:${m.status}`)).toEqual(['0:stopped', '1:starting']);
  expect((await events()).filter((e) => e.startsWith('error: replica ') && e.includes('failed: '))).toHaveLength(1);
  expect((await events()).filter((e) => e.startsWith('restart: '))).toHaveLength(1);
}, 150_000);

it('kill -9 of the head: the worker goes with it, and the group restarts as one replica', async () => {
  const before = await readyGroup(1);
  process.kill(before.head.pid!, 'SIGKILL');
  const after = await readyGroup(2);
  expect(isRunning(before.member.pid!)).toBe(false);
  expect(after.head.pid).not.toBe(before.head.pid);
  const failure = (await events()).filter((e) => e.startsWith('error: replica ') && e.includes('failed: ')).at(-1);
  expect(failure).toMatch(/engine exited with code null, signal SIGKILL/);
}, 150_000);

it("a member's host going silent fails the group with that reason, stops both halves, and waits for room to restart", async () => {
  const before = await readyGroup(2);
  // The node sweep marks a host whose heartbeats stopped unhealthy; its processes here keep running.
  await t.db.update(gpuNodes).set({ status: 'unhealthy' }).where(eq(gpuNodes.name, before.member.nodeName));
  await reconcileUntil('the group to be failed', async () => (await replica())?.status === 'failed');
  expect((await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.id, before.head.id)))[0]!.lastError).toBe(
    `host ${before.member.nodeName} (group member rank 1) went silent (no heartbeat); the whole group is restarted`,
  );
  // Neither half keeps its GPUs busy: the head's agent stops the head, the worker's agent the worker.
  await until('both processes to stop', async () => !isRunning(before.head.pid!) && !isRunning(before.member.pid!));
  // With one healthy host left a TP 2 x PP 2 replica has nowhere to go, and says so.
  await reconcileUntil('the restart to wait for room', async () => (await events()).some((e) => e.startsWith(`error: replica ${before.head.id.slice(0, 8)} cannot restart yet: `)));
  expect((await replica())!.status).toBe('failed');
  // The host is back: the group is placed again and runs.
  await recordHeartbeat(t.db, before.member.nodeName, []);
  const after = await readyGroup(3);
  expect(after.head.id).toBe(before.head.id);
}, 150_000);

it('on Ray (ENCLAVE_VLLM_MULTINODE=ray on the head; the worker follows its head): the head runs the Ray head and vllm serve as one process, the worker joins with ray start, and a lost worker restarts the group', async () => {
  const old = await readyGroup(3);
  await stopDeployment(t.db, null, deploymentId);
  await reconcileDeployment(t.db, deploymentId, opts());
  await until('the stopped group to be gone', async () => !isRunning(old.head.pid!) && !isRunning(old.member.pid!));
  expect((await membersOf(old.head.id)).map((m) => m.status)).toEqual(['stopped', 'stopped', 'stopped', 'stopped']);
  for (const agent of agents.values()) await agent.stop();
  agents.clear();

  await startDeployment(t.db, null, deploymentId);
  await reconcileDeployment(t.db, deploymentId, opts());
  const placed = (await replica())!;
  const [member] = await membersOf(placed.id);
  await startNodeAgent(placed.nodeName!, 'ray');
  await startNodeAgent(member!.nodeName, 'mp');
  const { head, member: worker } = await readyGroup(0);
  const rayPort = /^ray:\/\/127\.0\.0\.1:(\d+)$/.exec(head.rendezvous!)![1]!;

  const headArgs = commandLineOf(head.pid!)!;
  expect(headArgs.slice(0, 2)).toEqual(['/bin/sh', '-c']);
  expect(headArgs.slice(3)).toEqual([
    'enclave-ray-head', path.join(DOUBLES, 'ray'), rayPort, '127.0.0.1', '2', path.join(DOUBLES, 'vllm'), 'serve', modelDir, '--host', '127.0.0.1', '--port', String(head.port),
    '--served-model-name', 'llama-pp', '--tensor-parallel-size', '2', '--pipeline-parallel-size', '2', '--dtype', 'auto', '--gpu-memory-utilization', '0.9', '--distributed-executor-backend', 'ray',
  ]);
  expect(environOf(head.pid!)).toEqual(expect.arrayContaining(['CUDA_VISIBLE_DEVICES=0,1', `RAY_ADDRESS=127.0.0.1:${rayPort}`, 'VLLM_HOST_IP=127.0.0.1']));
  const workerArgs = commandLineOf(worker.pid!)!;
  expect(workerArgs.slice(workerArgs.indexOf('start'))).toEqual(['start', '--block', `--address=127.0.0.1:${rayPort}`, '--node-ip-address=127.0.0.1', '--num-gpus=2', '--disable-usage-stats']);
  expect(environOf(worker.pid!)).toContain('CUDA_VISIBLE_DEVICES=0,1');
  expect(environOf(worker.pid!).some((v) => v.startsWith('VLLM_API_KEY='))).toBe(false);
  expect((await fetch(`${head.url}/v1/models`, { headers: { authorization: replicaAuthorization(MASTER_KEY, head.id) } })).status).toBe(200);

  process.kill(worker.pid!, 'SIGKILL');
  const after = await readyGroup(1);
  expect(after.head.id).toBe(head.id);
  expect(isRunning(head.pid!)).toBe(false);
}, 150_000);
