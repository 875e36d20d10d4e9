import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeRedis } from '../../core/redis';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment } from '../../testing/factories';
import { startApiTestServer } from '../testing/api-test-server';

// What a deployment takes besides text (migration 0031), set through the API; and the list the chat asks
// before it shows its microphone and read-aloud: audio deployments this user may use, not stopped.
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;

beforeAll(async () => {
  t = await createTestDatabase('mediacaps');
  api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32) });
}, 60_000);

afterAll(async () => {
  await api?.close();
  await closeRedis();
  await t?.drop();
});

it('an engineer marks a deployment as vision and audio capable; a user may not', async () => {
  const engineer = await api.userSession('engineer');
  const user = await api.userSession('user');
  const { deployment } = await makeDeployment(t.db);
  expect((await api.trpc('query', 'deployments.gateway', { id: deployment.id }, engineer.cookie)).data).toMatchObject({ vision: false, audio: false });
  const set = await api.trpc('mutation', 'deployments.setGateway', { id: deployment.id, vision: true, audio: true }, engineer.cookie);
  expect(set.status).toBe(200);
  expect(set.data).toMatchObject({ vision: true, audio: true });
  const bad = await api.trpc('mutation', 'deployments.setGateway', { id: deployment.id, vision: 'yes' }, engineer.cookie);
  expect(bad.status).toBe(400);
  expect((await api.trpc('mutation', 'deployments.setGateway', { id: deployment.id, vision: false }, user.cookie)).status).toBe(403);
  // Switched off again: only what is named changes.
  expect((await api.trpc('mutation', 'deployments.setGateway', { id: deployment.id, audio: false }, engineer.cookie)).data).toMatchObject({ vision: true, audio: false });
});

it('audio.deployments lists the audio deployments the user may use, and nothing else', async () => {
  const user = await api.userSession('user');
  expect((await api.trpc('query', 'audio.deployments', undefined, user.cookie)).data).toEqual([]);
  await makeDeployment(t.db, { name: 'whisper', audio: true }, ['http://127.0.0.1:9']);
  await makeDeployment(t.db, { name: 'admins-whisper', audio: true, allowedRoles: ['admin'] });
  await makeDeployment(t.db, { name: 'stopped-whisper', audio: true, status: 'stopped' });
  await makeDeployment(t.db, { name: 'text-model' });
  expect((await api.trpc('query', 'audio.deployments', undefined, user.cookie)).data).toEqual([{ name: 'whisper', ready: true }]);
  const admin = await api.userSession('admin');
  expect(((await api.trpc('query', 'audio.deployments', undefined, admin.cookie)).data as { name: string }[]).map((d) => d.name)).toEqual(['admins-whisper', 'whisper']);
});
