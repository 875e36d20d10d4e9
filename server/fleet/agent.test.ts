import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentReplicas, gpuNodes } from '../db/schema';
import { TEST_MODEL_PATH } from '../engines/llamacpp/test-support';
import { replicaSecret } from '../engines/replica-secret';
import { parseEnv } from '../core/env';
import { isAlive, isRunning } from '../process/detached-process';
import { until } from '../testing/until';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeDeployment, makeModelVersion, makeReplica } from '../testing/factories';
import { startAgent, type AgentRole } from './agent';

let t: TestDatabase;
let dataDir: string;
let deploymentId: string;
const agents: AgentRole[] = [];
const pids = new Set<number>();
const NODE = 'agent-test-node';

const env = () => parseEnv({ ENCLAVE_DATA_DIR: dataDir, ENCLAVE_LLAMACPP_CONTEXT: '1024', ENCLAVE_LLAMACPP_SEQUENCES: '1', ENCLAVE_NODE_LABELS: 'zone=test' });
const MASTER_KEY = randomBytes(32);
const launch = async (masterKey = MASTER_KEY) => {
  const agent = await startAgent(t.db, env(), { masterKey, nodeName: NODE, pollMs: 200, heartbeatMs: 60_000, healthEveryMs: 200 });
  agents.push(agent);
  return agent;
};
const row = async (id: string) => (await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.id, id)))[0]!;
const assign = async (over: Partial<typeof deploymentReplicas.$inferInsert> = {}) => (await makeReplica(t.db, deploymentId, { nodeName: NODE, ...over })).id;

const rowWith = (id: string, status: string) =>
  until(`replica ${status}`, async () => {
    const r = await row(id);
    return r.status === status && r;
  });

beforeAll(async () => {
  t = await createTestDatabase('agent');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-agent-'));
  const { version } = await makeModelVersion(t.db, { modelName: 'stories260K', location: TEST_MODEL_PATH });
  const spec = { engine: 'llamacpp', llamacpp: { threads: 1, context: 1024, sequences: 1 } };
  deploymentId = (await makeDeployment(t.db, { name: 'agent-test-stories', modelVersionId: version.id, status: 'pending', spec })).deployment.id;
});

afterAll(async () => {
  for (const agent of agents) await agent.stop().catch(() => {});
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await t.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('agent', () => {
  it('registers its node, starts an assigned llamacpp replica detached with a log file, and reports a SIGKILLed engine as failed', async () => {
    const agent = await launch();
    const [node] = await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, NODE));
    expect(node).toMatchObject({ status: 'healthy', labels: { zone: 'test' } });

    const id = await assign();
    const ready = await rowWith(id, 'ready');
    pids.add(ready.pid!);
    expect(ready.url).toBe(`http://127.0.0.1:${ready.port}`);
    expect(ready.logPath).toBe(path.join(dataDir, 'logs', `${id}.log`));
    expect(fs.existsSync(ready.logPath!)).toBe(true);
    expect((await fetch(`${ready.url}/health`)).status).toBe(200);
    // Its OpenAI API answers only to the replica's secret, which reached it in its environment, not its command line.
    const secret = replicaSecret(MASTER_KEY, id);
    expect((await fetch(`${ready.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${ready.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
    expect(fs.readFileSync(`/proc/${ready.pid}/environ`, 'utf8').split('\0')).toContain(`VLLM_API_KEY=${secret}`);
    expect(fs.readFileSync(`/proc/${ready.pid}/cmdline`, 'utf8')).not.toContain(secret);
    // Its own process group: a Ctrl-C to the agent's terminal does not reach the engine.
    expect(fs.readFileSync(`/proc/${ready.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]).toBe(String(ready.pid));

    process.kill(ready.pid!, 'SIGKILL');
    const failed = await rowWith(id, 'failed');
    expect(failed.lastError).toMatch(/exited with code null, signal SIGKILL/);
    // The reconciler decides restarts: the agent never starts that replica again on its own. Two passes
    // of its loop: the second began after the failure was reported.
    await agent.supervisor.sync();
    await agent.supervisor.sync();
    expect((await row(id)).status).toBe('failed');
    expect(agent.supervisor.running()).toEqual([]);
  });

  it('stops a replica whose row is set to stopped', async () => {
    const agent = agents[0]!;
    const id = await assign();
    const ready = await rowWith(id, 'ready');
    pids.add(ready.pid!);
    await t.db.update(deploymentReplicas).set({ status: 'stopped' }).where(eq(deploymentReplicas.id, id));
    await until('engine gone', async () => !isAlive(ready.pid!));
    expect(agent.supervisor.running()).toEqual([]);
  });

  it('a new agent adopts the engine a crashed agent left running, and its graceful stop leaves no process', async () => {
    const id = await assign();
    const ready = await rowWith(id, 'ready');
    pids.add(ready.pid!);
    agents[0]!.abandon();
    expect(isAlive(ready.pid!)).toBe(true);

    const gone = await assign({ status: 'ready', pid: 2 ** 22 - 1, port: 9, url: 'http://127.0.0.1:9' });
    const second = await launch();
    await until('adoption', async () => second.supervisor.running().find((r) => r.replicaId === id));
    expect(second.supervisor.running()).toEqual([{ replicaId: id, pid: ready.pid, url: ready.url, adopted: true }]);
    expect(await row(id)).toMatchObject({ status: 'ready', pid: ready.pid });
    expect((await fetch(`${ready.url}/health`)).status).toBe(200);
    expect((await rowWith(gone, 'failed')).lastError).toMatch(/gone when the agent restarted/);

    // The adopted engine is watched: frozen, it turns unhealthy (the gateway stops routing to it); thawed, ready again.
    process.kill(ready.pid!, 'SIGSTOP');
    expect((await rowWith(id, 'unhealthy')).lastError).toMatch(/did not answer \/health/);
    process.kill(ready.pid!, 'SIGCONT');
    await rowWith(id, 'ready');

    await second.stop();
    // Exited; the first agent ran in this process, so the engine may be a zombie until this process reaps it.
    expect(isRunning(ready.pid!)).toBe(false);
    expect(await row(id)).toMatchObject({ status: 'stopped', pid: null });
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  });

  it('an agent under a new master key replaces, not adopts, an engine that still requires the old secret', async () => {
    const first = await launch();
    const id = await assign();
    const ready = await rowWith(id, 'ready');
    pids.add(ready.pid!);
    first.abandon();

    // The gateway now sends the new secret; adopting this engine would leave a replica that refuses every request.
    const rotated = await launch(randomBytes(32));
    expect((await rowWith(id, 'failed')).lastError).toMatch(/engine was running but did not serve its model to this replica's secret \(started under another master key\?\)/);
    await until('old engine gone', async () => !isRunning(ready.pid!));
    expect(rotated.supervisor.running()).toEqual([]);
    await rotated.stop();
  });
});
