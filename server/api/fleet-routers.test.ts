import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { auditLog, deployments } from '../db/schema';
import { loadUpstreamKey } from '../engines/upstream/keys';
import { closeQueues, queue } from '../core/queues';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeNode } from '../testing/factories';
import { startApiTestServer } from './testing/api-test-server';

process.env.REDIS_PREFIX = testRedisPrefix('fleetapi');
// The upstream doubles below are on 127.0.0.1, which the outbound policy refuses unless the admin allows it.
process.env.ENCLAVE_OUTBOUND_ALLOW = '127.0.0.1';
let t: TestDatabase;
const masterKey = randomBytes(32);
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const gguf = path.resolve(__dirname, '../../models/stories260K.gguf');
beforeAll(async () => {
  t = await createTestDatabase('fleetapi');
  api = await startApiTestServer({ db: t.db, masterKey });
  await makeNode(t.db, { name: 'local' });
});
afterAll(async () => {
  await queue('deploy').obliterate({ force: true });
  await closeQueues();
  await api?.close();
  await t?.drop();
});

it('lets engineers register, dry-run and deploy; viewers only read', async () => {
  const engineer = (await api.userSession('engineer')).cookie;
  const viewer = (await api.userSession('viewer')).cookie;
  const user = (await api.userSession('user')).cookie;
  const reg = await api.trpc('mutation', 'catalog.registerVersion', { modelName: 'stories', format: 'gguf', location: gguf }, engineer);
  expect(reg.status).toBe(200);
  const missing = await api.trpc('mutation', 'catalog.registerVersion', { modelName: 'x', format: 'hf', location: '/nope/nowhere' }, engineer);
  expect([missing.status, missing.error?.message]).toEqual([400, 'location: /nope/nowhere does not exist on this host']);
  const catalog = (await api.trpc('query', 'catalog.list', undefined, viewer)).data;
  expect(catalog[0].versions[0]).toMatchObject({ id: reg.data.id, version: 'v1', format: 'gguf', sizeBytes: 1185376 });

  const spec = { engine: 'llamacpp', replicas: 1 };
  const dry = await api.trpc('query', 'deployments.dryRun', { modelVersionId: reg.data.id, spec }, viewer);
  expect(dry.data).toMatchObject({ feasible: true, placements: [{ node: 'local', gpus: [] }], reasons: [] });
  expect(Object.keys(dry.data.perGpu).sort()).toEqual(['activationBytes', 'kvCacheBytes', 'overheadBytes', 'weightsBytes']);

  expect((await api.trpc('mutation', 'deployments.create', { name: 'stories', modelVersionId: reg.data.id, spec }, viewer)).status).toBe(403);
  expect((await api.trpc('query', 'deployments.list', undefined, user)).status).toBe(403);
  const created = await api.trpc('mutation', 'deployments.create', { name: 'stories', modelVersionId: reg.data.id, spec }, engineer);
  expect(created.status).toBe(200);
  const dup = await api.trpc('mutation', 'deployments.create', { name: 'stories', modelVersionId: reg.data.id, spec }, engineer);
  expect([dup.status, dup.error?.message]).toEqual([409, 'A deployment named stories already exists']);
  const bad = await api.trpc('mutation', 'deployments.create', { name: 'has space', spec }, engineer);
  expect(bad.status).toBe(400);

  const got = (await api.trpc('query', 'deployments.get', { id: created.data.id }, viewer)).data;
  expect(got).toMatchObject({ name: 'stories', engine: 'llamacpp', status: 'pending', desiredReplicas: 1, readyReplicas: 0, modelName: 'stories' });
  expect(got.events[0].message).toMatch(/^created by engineer-/);
  expect((await api.trpc('mutation', 'deployments.stop', { id: created.data.id }, engineer)).status).toBe(200);
  expect((await api.trpc('query', 'deployments.get', { id: created.data.id }, viewer)).data.status).toBe('stopped');
  const nodes = (await api.trpc('query', 'fleet.nodes', undefined, viewer)).data;
  expect(nodes.map((n: { name: string; gpus: unknown[] }) => [n.name, n.gpus])).toEqual([['local', []]]);
  expect((await api.trpc('mutation', 'deployments.delete', { id: created.data.id }, engineer)).status).toBe(200);
  expect((await api.trpc('query', 'deployments.list', undefined, viewer)).data).toEqual([]);
});

it('seals an upstream deployment key: never in the spec, the audit log or a dump in clear', async () => {
  const engineer = (await api.userSession('engineer')).cookie;
  const secret = `sk-upstream-${randomBytes(8).toString('hex')}`;
  const spec = { engine: 'upstream', upstream: { url: 'http://127.0.0.1:9/v1', model: 'remote' } };
  const bad = await api.trpc('mutation', 'deployments.create', { name: 'ext-bad', spec, upstreamKey: 'has a space' }, engineer);
  expect(bad.status).toBe(400);
  const created = await api.trpc('mutation', 'deployments.create', { name: 'ext', spec, upstreamKey: secret }, engineer);
  expect(created.status).toBe(200);
  const [row] = await t.db.select().from(deployments).where(eq(deployments.id, created.data.id));
  expect(JSON.stringify(row)).not.toContain(secret);
  expect(row!.spec).toHaveProperty('upstreamKeyEnc');
  expect(await loadUpstreamKey(t.db, masterKey, created.data.id)).toBe(secret);
  const audits = await t.db.select().from(auditLog);
  expect(audits.some((a) => a.action === 'deployments.create')).toBe(true);
  expect(JSON.stringify(audits)).not.toContain(secret);
  const notUpstream = await api.trpc('mutation', 'deployments.create', { name: 'cpu-with-key', spec: { engine: 'llamacpp' }, upstreamKey: 'abc' }, engineer);
  expect(notUpstream.status).toBe(400);
});
