import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeRedis } from '../../core/redis';
import { auditLog, quotas } from '../../db/schema';
import { createApiKey } from '../../security/api-keys';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeDeployment } from '../../testing/factories';
import { startApiTestServer } from '../testing/api-test-server';

process.env.REDIS_PREFIX = testRedisPrefix('quotasapi');

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let admin: Awaited<ReturnType<typeof api.userSession>>;

beforeAll(async () => {
  t = await createTestDatabase('quotasapi');
  api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32), env: { REDIS_PREFIX: process.env.REDIS_PREFIX } });
  admin = await api.userSession('admin');
});
afterAll(async () => {
  await api?.close();
  await closeRedis();
  await t?.drop();
});

it('admins set defaults and overrides (each audited), and bad input is a 400 naming the field', async () => {
  const alice = await api.userSession('user');
  const { id: keyId } = await createApiKey(t.db, { userId: alice.user.id, name: 'ci', models: null });
  const set = (input: unknown) => api.trpc('mutation', 'quotas.set', input, admin.cookie);
  const limits = { requestsPerMinute: 60, tokensPerDay: 100_000, tokensPerMonth: null, maxConcurrent: 4 };
  const d = await set({ subjectKind: 'default_user', ...limits });
  expect(d.status).toBe(200);
  // Setting it again updates the one row.
  expect((await set({ subjectKind: 'default_user', ...limits, tokensPerDay: 200_000 })).data.id).toBe(d.data.id);
  expect((await set({ subjectKind: 'user', subjectId: alice.user.id, ...limits, tokensPerDay: 10 })).status).toBe(200);
  expect((await set({ subjectKind: 'key', subjectId: keyId, ...limits })).status).toBe(200);
  const audited = await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'quotas.set'), eq(auditLog.outcome, 'success')));
  expect(audited).toHaveLength(4);

  const bad: [unknown, number, RegExp][] = [
    [{ subjectKind: 'default_user', ...limits, tokensPerDay: -5 }, 400, /tokensPerDay/],
    [{ subjectKind: 'default_user', ...limits, requestsPerMinute: 1.5 }, 400, /requestsPerMinute/],
    [{ subjectKind: 'root', ...limits }, 400, /subjectKind/],
    [{ subjectKind: 'group', subjectId: alice.user.id, ...limits }, 404, /no such group/],
    [{ subjectKind: 'default_key', ...limits, extra: 1 }, 400, /extra/],
    [{ subjectKind: 'default_key', subjectId: keyId, ...limits }, 400, /subjectId/],
    [{ subjectKind: 'user', ...limits }, 400, /subjectId/],
    [{ subjectKind: 'user', subjectId: '00000000-0000-4000-8000-000000000000', ...limits }, 404, /no such user/],
    [{ subjectKind: 'key', subjectId: 'nope', ...limits }, 400, /subjectId/],
  ];
  for (const [input, status, message] of bad) {
    const res = await set(input);
    expect([res.status, res.error?.message]).toEqual([status, expect.stringMatching(message)]);
  }

  const list = (await api.trpc('query', 'quotas.list', undefined, admin.cookie)).data;
  expect(list.quotas.map((q: { subjectKind: string; label: string }) => [q.subjectKind, q.label]).sort()).toEqual(
    [['default_user', 'default_user'], ['key', expect.stringMatching(/^ci \(.+…, user-.+@example\.test\)$/)], ['user', alice.email]].sort(),
  );
  // The user's own override is what the chat is held to.
  const [mine] = (await api.trpc('query', 'quotas.mine', undefined, alice.cookie)).data.subjects;
  expect(mine).toMatchObject({ kind: 'user', group: null, limits: { ...limits, tokensPerDay: 10 } });
  expect(mine.usage).toMatchObject({ tokensToday: 0, requestsThisMinute: 0 });

  const userRow = list.quotas.find((q: { subjectKind: string }) => q.subjectKind === 'user');
  expect((await api.trpc('mutation', 'quotas.remove', { id: userRow.id }, admin.cookie)).status).toBe(200);
  expect((await api.trpc('mutation', 'quotas.remove', { id: userRow.id }, admin.cookie)).status).toBe(404);
  expect((await api.trpc('query', 'quotas.mine', undefined, alice.cookie)).data.subjects[0].limits.tokensPerDay).toBe(200_000);
  expect((await t.db.select().from(quotas)).length).toBe(2);
});

it('admins price a deployment per million tokens', async () => {
  const { deployment } = await makeDeployment(t.db);
  const price = (input: unknown) => api.trpc('mutation', 'quotas.setPrice', input, admin.cookie);
  expect((await price({ deploymentId: deployment.id, promptPerMillion: 0.5, completionPerMillion: 1.5, currency: 'EUR' })).status).toBe(200);
  expect((await price({ deploymentId: deployment.id, promptPerMillion: -1, completionPerMillion: 1 })).error.message).toMatch(/promptPerMillion/);
  expect((await price({ deploymentId: deployment.id, promptPerMillion: 1, completionPerMillion: 1, currency: 'euro' })).error.message).toMatch(/currency/);
  const list = (await api.trpc('query', 'quotas.list', undefined, admin.cookie)).data;
  expect(list.prices).toEqual([{ deploymentId: deployment.id, promptPerMillion: 0.5, completionPerMillion: 1.5, currency: 'EUR' }]);
  expect((await api.trpc('mutation', 'quotas.removePrice', { deploymentId: deployment.id }, admin.cookie)).status).toBe(200);
});
