import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { deploymentReplicas, gpuNodes } from '../../db/schema';
import { TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';
import { replicaSecret } from '../../engines/replica-secret';
import { parseEnv } from '../../core/env';
import { isAlive } from '../../process/detached-process';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment, makeModelVersion, makeReplica } from '../../testing/factories';
import { until } from '../../testing/until';
import { controlPlaneUrl, JoinUrlError } from './control-client';
import { createJoinToken } from './join-tokens';
import { registerNode } from './register';
import { startRemoteAgent } from './remote-agent';

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let dataDir: string;
let deploymentId: string;
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  t = await createTestDatabase('remoteagent');
  api = await startApiTestServer({ db: t.db, masterKey: MASTER_KEY });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-remote-agent-'));
  const { version } = await makeModelVersion(t.db, { modelName: 'remote-stories', location: TEST_MODEL_PATH });
  const spec = { llamacpp: { threads: 1, context: 1024, sequences: 1 } };
  deploymentId = (await makeDeployment(t.db, { name: 'remote-stories', modelVersionId: version.id, status: 'pending', spec })).deployment.id;
});
afterAll(async () => {
  for (const stop of stops) await stop().catch(() => {});
  await api.close();
  await t.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const MASTER_KEY = Buffer.alloc(32, 7);
const env = () => parseEnv({ ENCLAVE_DATA_DIR: dataDir, ENCLAVE_ENGINE_HOST: '127.0.0.1', ENCLAVE_NODE_LABELS: 'site=remote' });
const noGpus = async () => ({ gpus: [], topology: null, processes: null });

describe('control plane URL', () => {
  it('accepts https and loopback http, refuses other plain http unless allowed', () => {
    expect(controlPlaneUrl('https://control.example:3000').host).toBe('control.example:3000');
    expect(controlPlaneUrl('http://127.0.0.1:3000').port).toBe('3000');
    expect(() => controlPlaneUrl('http://control.example:3000')).toThrow(/ENCLAVE_ALLOW_INSECURE_JOIN/);
    expect(controlPlaneUrl('http://control.example:3000', true).protocol).toBe('http:');
    expect(() => controlPlaneUrl('ftp://x')).toThrow(JoinUrlError);
  });
});

describe('remote agent over the real API', () => {
  it('refuses to start without an address for its engines: never every interface, never a guess', async () => {
    const { token } = await createJoinToken(t.db);
    const unset = parseEnv({ ENCLAVE_DATA_DIR: dataDir });
    await expect(startRemoteAgent(unset, { joinUrl: api.base, token, nodeName: 'remote-nohost', inventory: noGpus })).rejects.toThrow(/^ENCLAVE_ENGINE_HOST must be set on a remote agent/);
    expect(() => parseEnv({ ENCLAVE_ENGINE_HOST: '0.0.0.0' })).toThrow(/ENCLAVE_ENGINE_HOST: must be one address/);
  });

  it('joins with a one-time token, heartbeats, runs its assigned replica, and stops it gracefully', async () => {
    const { token } = await createJoinToken(t.db);
    const agent = await startRemoteAgent(env(), { joinUrl: api.base, token, nodeName: 'remote-a', pollMs: 200, heartbeatMs: 60_000, inventory: noGpus });
    stops.push(() => agent.stop());
    const [node] = await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, 'remote-a'));
    expect(node).toMatchObject({ status: 'healthy', labels: { site: 'remote' } });
    // Its first heartbeat (over HTTP, awaited by the start) carried the host: a CPU-only node's GPU page has this.
    expect(node!.host).toMatchObject({ cpuCores: os.availableParallelism(), memoryTotalBytes: os.totalmem(), diskPath: dataDir });
    const savedPath = path.join(dataDir, 'agent-credential.json');
    expect(fs.statSync(savedPath).mode & 0o777).toBe(0o600);
    const credential = JSON.parse(fs.readFileSync(savedPath, 'utf8')).credential as string;

    // The token was spent: a second join with it is refused.
    const again = await api.request('/api/agent/join', { method: 'POST', body: JSON.stringify({ token, node: { name: 'remote-b', gpus: [], topology: null } }) });
    expect(again.status).toBe(401);

    const row = await makeReplica(t.db, deploymentId, { nodeName: 'remote-a' });
    const ready = await until('the remote replica to be ready', async () => {
      const [r] = await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.id, row.id));
      return r!.status === 'ready' && r;
    });
    expect(ready).toMatchObject({ status: 'ready', url: `http://127.0.0.1:${ready.port}` });
    expect((await fetch(`${ready.url}/health`)).status).toBe(200);
    // This agent holds no master key: its replica's secret came with the assignment, and the engine requires it.
    const secret = replicaSecret(MASTER_KEY, row.id);
    expect((await fetch(`${ready.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${ready.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);

    // Another node's replica is invisible to this credential.
    await registerNode(t.db, { name: 'other', labels: {}, gpus: [], topology: null });
    const foreign = await makeReplica(t.db, deploymentId, { nodeName: 'other', status: 'stopped' });
    const auth = { authorization: `Bearer ${credential}` };
    const steal = await api.request(`/api/agent/replicas/${foreign.id}`, { method: 'POST', headers: auth, body: JSON.stringify({ status: 'ready' }) });
    expect(steal.status).toBe(404);
    const listed = (await (await api.request('/api/agent/assignments', { headers: auth })).json()) as { assignments: { replicaId: string; secret: string }[] };
    expect(listed.assignments.map((a) => [a.replicaId, a.secret])).toEqual([[row.id, secret]]);
    // Only the agent's own fields, well-formed.
    const bad = await api.request(`/api/agent/replicas/${row.id}`, { method: 'POST', headers: auth, body: JSON.stringify({ nodeName: 'other' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toMatch(/nodeName/);
    expect((await api.request('/api/agent/assignments')).status).toBe(401);
    expect((await api.request('/api/agent/heartbeat', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"gpus":[]}' })).status).toBe(401);
    expect((await api.request('/api/agent/heartbeat', { method: 'POST', headers: auth, body: '{"gpus":[{"index":-1}]}' })).status).toBe(400);

    await agent.stop();
    expect(isAlive(ready.pid!)).toBe(false);
    expect((await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.id, row.id)))[0]).toMatchObject({ status: 'stopped', pid: null });

    // A restart needs no new token: the saved credential is used.
    const before = (await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, 'remote-a')))[0]!.lastHeartbeatAt!;
    const restarted = await startRemoteAgent(env(), { joinUrl: api.base, nodeName: 'remote-a', pollMs: 200, heartbeatMs: 60_000, inventory: noGpus });
    stops.push(() => restarted.stop());
    expect((await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, 'remote-a')))[0]!.lastHeartbeatAt!.getTime()).toBeGreaterThan(before.getTime());
    await restarted.stop();
  });
});
