import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentReplicas } from '../db/schema';
import { replicaSecret } from '../engines/replica-secret';
import { parseEnv } from '../core/env';
import { startGatewayHarness, type GatewayHarness } from '../gateway/testing/harness';
import { dbReplicaStore } from './nodes/db-store';
import { startAgent, type AgentRole } from './agent';
import { makeDeployment, makeModelVersion, makeReplica } from '../testing/factories';
import { startOpenAIDouble } from '../testing/openai-double';
import { until } from '../testing/until';
import { isRunning } from '../process/detached-process';
import { launcherFor } from './engine-launch';
import { createReplicaSupervisor, type ReplicaStore } from './replica-supervisor';

/**
 * Finding 9 of issue 9: engines are reachable only through the gateway. Each replica requires its own
 * secret, which the gateway sends; engines listen on loopback only. vLLM cannot run here: the agent runs
 * the vllm driver's real command line against the executable double, which enforces the key as vLLM does.
 */
const VLLM_DOUBLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../engines/testing/bin/vllm');
const NODE = 'secret-node';
const saved = { bin: process.env.ENCLAVE_VLLM_BIN, load: process.env.VLLM_DOUBLE_LOAD_MS };

let h: GatewayHarness;
let dataDir: string;
let agent: AgentRole;
let deploymentId: string;
const pids = new Set<number>();

beforeAll(async () => {
  process.env.ENCLAVE_VLLM_BIN = VLLM_DOUBLE;
  process.env.VLLM_DOUBLE_LOAD_MS = '100';
  h = await startGatewayHarness('replicasecret');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-replica-secret-'));
  const { version } = await makeModelVersion(h.t.db, { modelName: 'secret-double', format: 'hf', location: 'meta-llama/Llama-3.1-8B-Instruct' });
  deploymentId = (await makeDeployment(h.t.db, { name: 'secret-double', modelVersionId: version.id, engine: 'vllm', spec: { engine: 'vllm' } })).deployment.id;
  agent = await startAgent(h.t.db, parseEnv({ ENCLAVE_DATA_DIR: dataDir }), { masterKey: h.masterKey, nodeName: NODE, pollMs: 200, heartbeatMs: 60_000, inventory: async () => ({ gpus: [], topology: null, processes: null }) });
});
afterAll(async () => {
  await agent?.stop();
  for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  await h?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  for (const [key, value] of [['ENCLAVE_VLLM_BIN', saved.bin], ['VLLM_DOUBLE_LOAD_MS', saved.load]] as const)
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
});

const assign = async () => (await makeReplica(h.t.db, deploymentId, { nodeName: NODE, gpuIndices: [0] })).id;
const row = async (id: string) => (await h.t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.id, id)))[0]!;
const withStatus = (id: string, status: string) => until(`replica ${status}`, async () => ((await row(id)).status === status ? row(id) : undefined));
const chat = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model: 'secret-double', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }) });

describe('replica secrets', () => {
  it("a replica refuses callers without its own secret, and the gateway's requests carry it", async () => {
    const [first, second] = await Promise.all([assign(), assign()]);
    const [a, b] = await Promise.all([withStatus(first, 'ready'), withStatus(second, 'ready')]);
    pids.add(a.pid!).add(b.pid!);

    // Any local process that finds the port: refused, whatever it tries, including the other replica's secret.
    expect((await chat(a.url)).status).toBe(401);
    expect((await chat(a.url, { authorization: 'Bearer guess' })).status).toBe(401);
    expect((await chat(a.url, { authorization: `Bearer ${replicaSecret(h.masterKey, second)}` })).status).toBe(401);
    expect((await chat(a.url, { authorization: `Bearer ${replicaSecret(h.masterKey, first)}` })).status).toBe(200);

    // The secret is in the engine's environment (readable by its owner only), not its command line (readable by all).
    const secret = replicaSecret(h.masterKey, first);
    expect(fs.readFileSync(`/proc/${a.pid}/environ`, 'utf8').split('\0')).toContain(`VLLM_API_KEY=${secret}`);
    expect(fs.readFileSync(`/proc/${a.pid}/cmdline`, 'utf8')).not.toContain(secret);

    // Through the gateway with an API key: both replicas answer, so each got its own secret.
    await h.gateway.refresh();
    const { key } = await h.keyFor();
    for (let i = 0; i < 4; i++) {
      const res = await h.post('/v1/chat/completions', { model: 'secret-double', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, key);
      expect(res.status, await res.clone().text()).toBe(200);
    }
  });

  it('engines listen on loopback only, never on the host\'s other addresses', async () => {
    const id = await assign();
    const ready = await withStatus(id, 'ready');
    pids.add(ready.pid!);
    expect(new URL(ready.url).hostname).toBe('127.0.0.1');
    const others = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a && !a.internal && a.family === 'IPv4')
      .map((a) => a!.address);
    for (const address of others) {
      const refused = await new Promise<boolean>((resolve) => {
        const socket = net.connect(ready.port!, address);
        socket.once('connect', () => (socket.destroy(), resolve(false)));
        socket.once('error', () => resolve(true));
      });
      expect(refused, `${address}:${ready.port}`).toBe(true);
    }
    expect(() => createReplicaSupervisor({ store: dbReplicaStore(h.t.db, NODE, h.masterKey), dataDir, launcherFor: () => null, host: '0.0.0.0' })).toThrow(/not '0\.0\.0\.0' \(every interface\)/);
  });

  it('an engine that refuses the gateway\'s secret is never passed on to the caller as a 401', async () => {
    const stale = await startOpenAIDouble({ served: { servedName: 'stale-double', modelPath: '/models/x' }, apiKey: 'secret-of-another-master-key' });
    try {
      await makeDeployment(h.t.db, { name: 'stale-double', engine: 'vllm' }, [stale.url]);
      await h.gateway.refresh();
      const { key } = await h.keyFor();
      const res = await h.post('/v1/chat/completions', { model: 'stale-double', messages: [{ role: 'user', content: 'hi' }] }, key);
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('replica_auth_failed');
      expect(stale.requests.at(-1)?.headers.authorization).toMatch(/^Bearer enc-replica-/);
    } finally {
      await stale.close();
    }
  });

  it('a running engine whose secret changed (a control plane restarted with a new master key) is stopped for a restart', async () => {
    // The agent of the other tests would pick this row up too; a separate node keeps it to this supervisor.
    const node = 'secret-rotation-node';
    const rep = await makeReplica(h.t.db, deploymentId, { nodeName: node, gpuIndices: [0] });
    // What a remote agent sees: assignments from a control plane, first under one master key, then another.
    let store = dbReplicaStore(h.t.db, node, h.masterKey);
    const viaControlPlane: ReplicaStore = { assignments: () => store.assignments(), report: (id, report) => store.report(id, report) };
    const defaults = { threads: 1, context: 1024, sequences: 1 };
    const supervisor = createReplicaSupervisor({ store: viaControlPlane, dataDir, launcherFor: (engine) => launcherFor(engine, defaults) });
    try {
      const ready = await until('ready', async () => {
        await supervisor.sync();
        const r = await row(rep.id);
        return r.status === 'ready' && r;
      });
      pids.add(ready.pid!);
      store = dbReplicaStore(h.t.db, node, randomBytes(32));
      await supervisor.sync();
      const failed = await row(rep.id);
      expect(failed.status).toBe('failed');
      expect(failed.lastError).toMatch(/the replica's secret changed \(a new master key\): stopped its engine so that it restarts with the new one/);
      expect(isRunning(ready.pid!)).toBe(false);
    } finally {
      await supervisor.stopAll();
    }
  });
});
