import fs from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { replicaStartMeasurements } from '../../db/schema';
import { parseVllmStartupLog } from '../../engines/vllm/startup-log';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment, makeModelVersion, makeReplica } from '../../testing/factories';
import { controlPlaneClient, joinControlPlane } from './control-client';
import { createJoinToken } from './join-tokens';
import { registerNode } from './register';

/** A remote agent stores a start's measurement over the control API: its own node's replicas only, well-formed only. */
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const H100 = { index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: null, memoryTotalMiB: 81_559, memoryUsedMiB: 0, utilizationPct: 0, temperatureC: 30, powerW: 70 };
const recorded = fs.readFileSync(path.join(import.meta.dirname, '../../engines/vllm/fixtures/startup/v0-0.8.1-kubectl-the-rest.log'), 'utf8');

beforeAll(async () => {
  t = await createTestDatabase('remotemeasure');
  api = await startApiTestServer({ db: t.db, masterKey: Buffer.alloc(32, 3) });
});
afterAll(async () => {
  await api.close();
  await t.drop();
});

it('stores what the remote engine measured, once per start, for the replicas of its own node', async () => {
  const { token } = await createJoinToken(t.db);
  const base = new URL(api.base);
  const { nodeName, credential } = await joinControlPlane(base, token, { name: 'remote-gpu', labels: {}, gpus: [H100], topology: null });
  const client = controlPlaneClient(base, credential);
  const { version } = await makeModelVersion(t.db, { format: 'hf', location: '/nonexistent/remote-model' });
  const { deployment } = await makeDeployment(t.db, { engine: 'vllm', modelVersionId: version.id, spec: { engine: 'vllm', tp: 1 } });
  const replica = await makeReplica(t.db, deployment.id, { nodeName, gpuIndices: [0], status: 'ready' });

  const measured = parseVllmStartupLog(recorded);
  await client.store.recordStart(replica.id, measured);
  await client.store.recordStart(replica.id, measured);
  const rows = await t.db.select().from(replicaStartMeasurements).where(eq(replicaStartMeasurements.replicaId, replica.id));
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ nodeName, gpuName: H100.name, logWording: 'v0', measuredGpuBlocks: 7191 });

  // Another node's replica: not found. A body that is not a measurement: refused, saying which field.
  await registerNode(t.db, { name: 'other-node', labels: {}, gpus: [], topology: null });
  const foreign = await makeReplica(t.db, deployment.id, { nodeName: 'other-node', gpuIndices: [0] });
  await expect(client.store.recordStart(foreign.id, measured)).rejects.toThrow(/404 No such replica on this node/);
  const auth = { authorization: `Bearer ${credential}` };
  const bad = await api.request(`/api/agent/replicas/${replica.id}/start-measurement`, { method: 'POST', headers: auth, body: JSON.stringify({ ...measured, weightsBytes: 'lots' }) });
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/weightsBytes/);
  expect((await api.request(`/api/agent/replicas/${replica.id}/start-measurement`, { method: 'POST', body: JSON.stringify(measured) })).status).toBe(401);
});
