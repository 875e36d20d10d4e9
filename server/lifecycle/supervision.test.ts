import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'bullmq';
import { and, eq, ne } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDeployWorker } from '../../workers/deploy';
import { deploymentEvents, deploymentReplicas, deployments } from '../db/schema';
import { TEST_MODEL_PATH } from '../engines/llamacpp/test-support';
import { replicaAuthorization } from '../engines/replica-secret';
import { parseEnv } from '../core/env';
import { closeQueues, queue } from '../core/queues';
import { startAgent, type AgentRole } from '../fleet/agent';
import { isAlive } from '../process/detached-process';
import { countCompletedJobs } from '../testing/completed-jobs';
import { until } from '../testing/until';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { registerVersion } from './catalog';
import { createDeployment } from './deployments';

/**
 * Supervision on real processes, the whole loop: the reconciler (worker role) places a stories260K
 * replica, the agent runs it; SIGKILL → the agent reports it failed → the reconciler restarts it;
 * a restarted worker and a restarted agent both carry on with what runs, duplicating nothing.
 */
process.env.REDIS_PREFIX = testRedisPrefix('supervision');
const NODE = 'supervision-node';
const MASTER_KEY = randomBytes(32);
let t: TestDatabase;
let dataDir: string;
let worker: Worker | undefined;
const agents: AgentRole[] = [];
const pids = new Set<number>();

const env = () => parseEnv({ ENCLAVE_DATA_DIR: dataDir, ENCLAVE_LLAMACPP_CONTEXT: '1024', ENCLAVE_LLAMACPP_SEQUENCES: '1' });
const newWorker = () => startDeployWorker(t.db, { sweepEveryMs: 250, backoff: { baseMs: 200, maxMs: 400 } });
const newAgent = async () => {
  const agent = await startAgent(t.db, env(), { masterKey: MASTER_KEY, nodeName: NODE, pollMs: 200, heartbeatMs: 60_000, healthEveryMs: 300 });
  agents.push(agent);
  return agent;
};
const active = (deploymentId: string) =>
  t.db.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, deploymentId), ne(deploymentReplicas.status, 'stopped')));

const readyReplica = (deploymentId: string, notPid?: number) =>
  until('a ready replica', async () => {
    const rows = await active(deploymentId);
    const r = rows.length === 1 && rows[0]!.status === 'ready' && rows[0]!.pid !== notPid ? rows[0]! : undefined;
    if (r?.pid) pids.add(r.pid);
    return r;
  }, 45_000);

beforeAll(async () => {
  t = await createTestDatabase('supervision');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-supervision-'));
});
afterAll(async () => {
  await worker?.close();
  for (const a of agents) await a.stop().catch(() => {});
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await queue('deploy').obliterate({ force: true }).catch(() => {});
  await closeQueues();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it('places, restarts after SIGKILL, and survives a worker restart and an agent restart without duplicates', async () => {
  let agent = await newAgent();
  worker = await newWorker();
  const version = await registerVersion(t.db, { modelName: 'stories260K', format: 'gguf', location: TEST_MODEL_PATH });
  const { id } = await createDeployment(t.db, null, {
    name: 'supervised-stories',
    modelVersionId: version.id,
    spec: { engine: 'llamacpp', replicas: 1, llamacpp: { threads: 1, context: 1024, sequences: 1 } },
  });

  const first = await readyReplica(id);
  expect(first.nodeName).toBe(NODE);
  const chat = await fetch(`${first.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: replicaAuthorization(MASTER_KEY, first.id) },
    body: JSON.stringify({ model: 'supervised-stories', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 }),
  });
  expect(chat.status).toBe(200);

  // A crash: the agent reports it, the reconciler restarts it after its backoff.
  process.kill(first.pid!, 'SIGKILL');
  const second = await readyReplica(id, first.pid!);
  expect(second.id).toBe(first.id);
  expect(second.restarts).toBe(1);
  const events = await t.db.select().from(deploymentEvents).where(eq(deploymentEvents.deploymentId, id));
  expect(events.some((e) => e.kind === 'restart')).toBe(true);

  // The worker restarts: the database is the truth, nothing is placed twice.
  await worker.close();
  worker = await newWorker();
  await countCompletedJobs(worker, (job) => job.deploymentId === id).atLeast(2, 'the restarted worker to reconcile the deployment twice');
  expect((await active(id)).map((r) => [r.id, r.pid, r.status])).toEqual([[second.id, second.pid, 'ready']]);

  // The agent crashes (its engine keeps running) and a new one adopts the engine.
  agent.abandon();
  agent = await newAgent();
  await until('adoption', async () => agent.supervisor.running().find((r) => r.replicaId === second.id && r.adopted));
  // Carrying on: the new agent's loop and the worker both went over it again, and changed nothing.
  const reconciled = countCompletedJobs(worker, (job) => job.deploymentId === id);
  await agent.supervisor.sync();
  await agent.supervisor.sync();
  await reconciled.atLeast(2, 'the worker to reconcile the deployment twice after the adoption');
  expect((await active(id)).map((r) => [r.id, r.pid, r.status])).toEqual([[second.id, second.pid, 'ready']]);
  expect((await fetch(`${second.url}/health`)).status).toBe(200);
  expect((await t.db.select().from(deployments).where(eq(deployments.id, id)))[0]!.status).toBe('ready');

  await worker.close();
  worker = undefined;
  await agent.stop();
  for (const pid of pids) expect(isAlive(pid)).toBe(false);
}, 120_000);
