import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { deploymentReplicas, deployments, gpuNodes, models, modelVersions } from '../../db/schema';
import { TEST_MODEL_PATH } from '../../engines/llamacpp/test-support';
import { parseEnv } from '../../env';
import { isAlive } from '../../runtime/detached-process';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
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
  api = await startApiTestServer({ db: t.db, masterKey: Buffer.alloc(32, 7) });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-remote-agent-'));
  const [model] = await t.db.insert(models).values({ name: 'remote-stories' }).returning();
  const [version] = await t.db.insert(modelVersions).values({ modelId: model!.id, version: 'v1', format: 'gguf', location: TEST_MODEL_PATH }).returning();
  const [dep] = await t.db.insert(deployments).values({ name: 'remote-stories', modelVersionId: version!.id, engine: 'llamacpp', spec: { llamacpp: { threads: 1, context: 1024, sequences: 1 } } }).returning();
  deploymentId = dep!.id;
});
afterAll(async () => {
  for (const stop of stops) await stop().catch(() => {});
  await api.close();
  await t.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const env = () => parseEnv({ ENCLAVE_DATA_DIR: dataDir, HOST: '127.0.0.1', ENCLAVE_NODE_LABELS: 'site=remote' });
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
  it('joins with a one-time token, heartbeats, runs its assigned replica, and stops it gracefully', async () => {
    const { token } = await createJoinToken(t.db);
    const agent = await startRemoteAgent(env(), { joinUrl: api.base, token, nodeName: 'remote-a', pollMs: 200, heartbeatMs: 60_000, inventory: noGpus });
    stops.push(() => agent.stop());
    const [node] = await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, 'remote-a'));
    expect(node).toMatchObject({ status: 'healthy', labels: { site: 'remote' } });
    const savedPath = path.join(dataDir, 'agent-credential.json');
    expect(fs.statSync(savedPath).mode & 0o777).toBe(0o600);
    const credential = JSON.parse(fs.readFileSync(savedPath, 'utf8')).credential as string;

    // The token was spent: a second join with it is refused.
    const again = await api.request('/api/agent/join', { method: 'POST', body: JSON.stringify({ token, node: { name: 'remote-b', gpus: [], topology: null } }) });
    expect(again.status).toBe(401);

    const [row] = await t.db.insert(deploymentReplicas).values({ deploymentId, nodeName: 'remote-a', url: '', status: 'starting' }).returning();
    let ready;
    for (let i = 0; i < 300; i++) {
      [ready] = await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.id, row!.id));
      if (ready!.status === 'ready') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready).toMatchObject({ status: 'ready', url: `http://127.0.0.1:${ready!.port}` });
    expect((await fetch(`${ready!.url}/health`)).status).toBe(200);

    // Another node's replica is invisible to this credential.
    await registerNode(t.db, { name: 'other', labels: {}, gpus: [], topology: null });
    const [foreign] = await t.db.insert(deploymentReplicas).values({ deploymentId, nodeName: 'other', url: '', status: 'stopped' }).returning();
    const auth = { authorization: `Bearer ${credential}` };
    const steal = await api.request(`/api/agent/replicas/${foreign!.id}`, { method: 'POST', headers: auth, body: JSON.stringify({ status: 'ready' }) });
    expect(steal.status).toBe(404);
    const listed = (await (await api.request('/api/agent/assignments', { headers: auth })).json()) as { assignments: { replicaId: string }[] };
    expect(listed.assignments.map((a) => a.replicaId)).toEqual([row!.id]);
    // Only the agent's own fields, well-formed.
    const bad = await api.request(`/api/agent/replicas/${row!.id}`, { method: 'POST', headers: auth, body: JSON.stringify({ nodeName: 'other' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toMatch(/nodeName/);
    expect((await api.request('/api/agent/assignments')).status).toBe(401);
    expect((await api.request('/api/agent/heartbeat', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"gpus":[]}' })).status).toBe(401);
    expect((await api.request('/api/agent/heartbeat', { method: 'POST', headers: auth, body: '{"gpus":[{"index":-1}]}' })).status).toBe(400);

    await agent.stop();
    expect(isAlive(ready!.pid!)).toBe(false);
    expect((await t.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.id, row!.id)))[0]).toMatchObject({ status: 'stopped', pid: null });

    // A restart needs no new token: the saved credential is used.
    const before = (await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, 'remote-a')))[0]!.lastHeartbeatAt!;
    const restarted = await startRemoteAgent(env(), { joinUrl: api.base, nodeName: 'remote-a', pollMs: 200, heartbeatMs: 60_000, inventory: noGpus });
    stops.push(() => restarted.stop());
    expect((await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, 'remote-a')))[0]!.lastHeartbeatAt!.getTime()).toBeGreaterThan(before.getTime());
    await restarted.stop();
  });
});
