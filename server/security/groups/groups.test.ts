import { randomBytes } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApiTestServer } from '../../api/testing/api-test-server';
import { parseEnv } from '../../core/env';
import { closeRedis } from '../../core/redis';
import { auditLog, groupMembers, quotas, usageDaily, users } from '../../db/schema';
import { startGatewayServer, type GatewayServer } from '../../gateway/server';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../../testing/database';
import { makeDeployment } from '../../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../../testing/openai-double';
import { until } from '../../testing/until';
import { createApiKey } from '../api-keys';
import { syncExternalGroups } from './membership';

/**
 * Groups end to end on real PostgreSQL and Redis, through the real API and the real gateway: a
 * deployment granted to a group is invisible and refused to everyone else (model picker, /v1/models,
 * completions) and usable by members however they joined (an admin, an OIDC claim, an LDAP group
 * through a link); a change applies at once; a group quota is one pool its members share; usage groups
 * by group; every change is audited and bad input is refused by name.
 */
process.env.REDIS_PREFIX = testRedisPrefix('groups');

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let engine: OpenAIDouble;
let gateway: GatewayServer;
let client: Redis;
let admin: Awaited<ReturnType<typeof api.userSession>>;
let restrictedId: string;
const masterKey = randomBytes(32);

beforeAll(async () => {
  t = await createTestDatabase('groups');
  engine = await startOpenAIDouble({ tokens: 3, firstTokenMs: 1, interTokenMs: 1 });
  await makeDeployment(t.db, { name: 'open-model' }, [engine.url]);
  restrictedId = (await makeDeployment(t.db, { name: 'restricted-model' }, [engine.url])).deployment.id;
  client = new Redis('redis://127.0.0.1:6379');
  const env = parseEnv({ ENCLAVE_DATA_DIR: '/tmp/enclave-gateway-test', REDIS_PREFIX: process.env.REDIS_PREFIX });
  // Routing and credentials are cached for 10 minutes: only the announcements can make changes apply.
  gateway = await startGatewayServer({ port: 0, host: '127.0.0.1', db: t.db, env, redis: client, masterKey, routingRefreshMs: 600_000, authCacheMs: 600_000, quotaRefreshMs: 600_000 });
  api = await startApiTestServer({ db: t.db, masterKey, gatewayUrl: gateway.url, env: { REDIS_PREFIX: process.env.REDIS_PREFIX } });
  admin = await api.userSession('admin');
});
afterAll(async () => {
  await api?.close();
  await gateway?.close();
  await engine?.close();
  const keys = await client.keys(`${process.env.REDIS_PREFIX}:*`);
  if (keys.length) await client.del(...keys);
  client.disconnect();
  await closeRedis();
  await t?.drop();
});

const call = (path: string, input: unknown, cookie = admin.cookie) => api.trpc('mutation', path, input, cookie);
const listed = async (key: string) =>
  ((await (await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: { id: string }[] }).data.map((m) => m.id);
const complete = (key: string, model: string) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }),
  });
const person = async () => {
  const s = await api.userSession('user');
  return { ...s, key: (await createApiKey(t.db, { userId: s.user.id, name: 'k', models: null })).key };
};
const pickable = async (cookie: string) => ((await api.trpc('query', 'models.list', undefined, cookie)).data as { name: string }[]).map((m) => m.name);

it('a deployment granted to a group is usable by its members only, and changes apply at once on a gateway caching for minutes', async () => {
  const alice = await person();
  const group = await call('groups.create', { name: 'ml-team', description: 'Model builders' });
  expect(group.status).toBe(200);
  const groupId = group.data.id as string;
  // Before any grant, the deployment is open to every role, as before groups.
  expect(await listed(alice.key)).toEqual(['open-model', 'restricted-model']);

  expect((await call('groups.setGrant', { groupId, deploymentId: restrictedId, granted: true })).status).toBe(200);
  await until('the grant reached the gateway', async () => !(await listed(alice.key)).includes('restricted-model'));
  const refused = await complete(alice.key, 'restricted-model');
  expect(refused.status).toBe(403);
  expect(((await refused.json()) as { error: { message: string } }).error.message).toBe(
    "The model 'restricted-model' is not available: it is granted to groups this account is not in",
  );
  expect(await pickable(alice.cookie)).toEqual(['open-model']);
  // The browser's chat goes through the same gateway as the signed-in user: refused too.
  const conversationId = (await call('conversations.create', {}, alice.cookie)).data.id as string;
  const chat = await api.stream('chat.send', { conversationId, model: 'restricted-model', parentId: null, content: 'hi', maxTokens: 3 }, { cookie: alice.cookie });
  expect(chat.status).toBe(403);

  expect((await call('groups.addMember', { groupId, userId: alice.user.id })).status).toBe(200);
  await until('membership reached the gateway', async () => (await listed(alice.key)).includes('restricted-model'));
  expect((await complete(alice.key, 'restricted-model')).status).toBe(200);
  expect(await pickable(alice.cookie)).toEqual(['open-model', 'restricted-model']);
  expect((await api.stream('chat.send', { conversationId, model: 'restricted-model', parentId: null, content: 'hi', maxTokens: 3 }, { cookie: alice.cookie })).status).toBe(200);

  expect((await call('groups.removeMember', { groupId, userId: alice.user.id })).status).toBe(200);
  await until('removal reached the gateway', async () => (await complete(alice.key, 'restricted-model')).status === 403);

  // A group holding a grant is not deleted (its deployment would open to everyone); revoking the last grant says so.
  const del = await call('groups.remove', { id: groupId });
  expect([del.status, del.error?.message]).toEqual([409, "The group 'ml-team' is granted 'restricted-model': revoke those grants first"]);
  const revoked = await call('groups.setGrant', { groupId, deploymentId: restrictedId, granted: false });
  expect(revoked.data).toMatchObject({ deployment: 'restricted-model', grantedGroups: 0 });
  await until('the deployment reopened', async () => (await complete(alice.key, 'restricted-model')).status === 200);
  expect((await call('groups.remove', { id: groupId })).status).toBe(200);

  const audited = (await t.db.select({ action: auditLog.action }).from(auditLog).where(eq(auditLog.outcome, 'success'))).map((r) => r.action);
  for (const action of ['groups.create', 'groups.setGrant', 'groups.addMember', 'groups.removeMember', 'groups.remove']) expect(audited).toContain(action);
  expect(audited.filter((a) => a === 'groups.remove')).toHaveLength(1);
});

it('members follow OIDC claims and LDAP groups through links; an admin cannot remove what a directory gave', async () => {
  const groupId = (await call('groups.create', { name: 'research' })).data.id as string;
  await call('groups.setGrant', { groupId, deploymentId: restrictedId, granted: true });
  const bob = await person();
  const carol = await person();
  // What their last sign-ins stored: bob's identity provider sends ml-engineers; carol's directory her group DN.
  await t.db.update(users).set({ oidcGroups: ['ml-engineers', 'staff'] }).where(eq(users.id, bob.user.id));
  await t.db.update(users).set({ ldapGroups: ['cn=Research,ou=groups,dc=example,dc=org'] }).where(eq(users.id, carol.user.id));

  const oidc = await call('groups.setLink', { groupId, source: 'oidc', external: 'ml-engineers', present: true });
  expect(oidc.data).toMatchObject({ membersChanged: 1 });
  // DNs compare normalized: case and spaces around '=' do not matter.
  const ldap = await call('groups.setLink', { groupId, source: 'ldap', external: 'CN = Research, OU=groups,DC=example,DC=org', present: true });
  expect(ldap.data).toMatchObject({ external: 'cn=research,ou=groups,dc=example,dc=org', membersChanged: 1 });
  await until('bob and carol are in', async () => (await complete(bob.key, 'restricted-model')).status === 200 && (await complete(carol.key, 'restricted-model')).status === 200);
  const members = (await api.trpc('query', 'groups.members', { id: groupId }, admin.cookie)).data as { email: string; sources: string[] }[];
  expect(members.map((m) => [m.email, m.sources])).toEqual(
    [
      [bob.email, ['oidc']],
      [carol.email, ['ldap']],
    ].sort(),
  );
  const removeSynced = await call('groups.removeMember', { groupId, userId: bob.user.id });
  expect([removeSynced.status, removeSynced.error?.message]).toEqual([409, 'This membership comes from the identity provider (OIDC): change it there, or remove the group link']);

  // The next sign-in says bob left ml-engineers: out, audited, and the gateway hears of it.
  // As a worker's sync or the OIDC callback does: a transaction outside any API mutation.
  await t.db.transaction((tx) => syncExternalGroups(tx, bob.user.id, 'oidc', ['staff']));
  await until('bob is out', async () => (await complete(bob.key, 'restricted-model')).status === 403);
  const [sync] = await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'groups.sync'), eq(auditLog.target, `user:${bob.user.id}`)));
  expect(sync!.detail).toMatchObject({ source: 'oidc', added: [], removed: ['research'] });
  // A local membership stays whatever the directory says.
  await call('groups.addMember', { groupId, userId: carol.user.id });
  await call('groups.setLink', { groupId, source: 'ldap', external: 'cn=research,ou=groups,dc=example,dc=org', present: false });
  expect((await t.db.select().from(groupMembers).where(eq(groupMembers.userId, carol.user.id))).map((m) => m.source)).toEqual(['local']);
  expect((await complete(carol.key, 'restricted-model')).status).toBe(200);
  expect((await api.trpc('query', 'groups.mine', undefined, carol.cookie)).data).toEqual([{ id: groupId, name: 'research', sources: ['local'] }]);
  await call('groups.setGrant', { groupId, deploymentId: restrictedId, granted: false });
});

it('a group quota is one pool its members share, named in the refusal', async () => {
  const groupId = (await call('groups.create', { name: 'interns' })).data.id as string;
  const [dan, erin] = [await person(), await person()];
  for (const p of [dan, erin]) await call('groups.addMember', { groupId, userId: p.user.id });
  const set = await call('quotas.set', { subjectKind: 'group', subjectId: groupId, requestsPerMinute: 3, tokensPerDay: null, tokensPerMonth: null, maxConcurrent: null });
  expect(set.status).toBe(200);
  await until('the pool applies', async () => {
    const mine = (await api.trpc('query', 'quotas.mine', undefined, dan.cookie)).data as { subjects: { group: string | null }[] };
    return mine.subjects.some((s) => s.group === 'interns');
  });
  // A fresh minute, so the three requests below cannot straddle two.
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 50_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
  const statuses = [];
  for (const key of [dan.key, erin.key, dan.key, erin.key]) statuses.push((await complete(key, 'open-model')).status);
  expect(statuses).toEqual([200, 200, 200, 429]);
  const refused = await complete(dan.key, 'open-model');
  expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/^Quota reached: requests per minute for group 'interns' \(shared by its members\): 3 used of 3;/);
  // Someone outside the group is not held to it.
  expect((await complete((await person()).key, 'open-model')).status).toBe(200);
  // Removing the group removes its quota row with it.
  expect((await call('groups.remove', { id: groupId })).status).toBe(200);
  expect(await t.db.select().from(quotas).where(eq(quotas.subjectId, groupId))).toEqual([]);
});

it('usage groups by group (each member counts in each of their groups) and bad input is refused by name', async () => {
  const groupId = (await call('groups.create', { name: 'analysts' })).data.id as string;
  const [fay, gus] = [await person(), await person()];
  await call('groups.addMember', { groupId, userId: fay.user.id });
  const day = new Date().toISOString().slice(0, 10);
  const row = { day, apiKeyId: null, model: 'open-model', deploymentId: null, requests: 2, errors: 0, promptTokens: 10, completionTokens: 5 };
  await t.db.insert(usageDaily).values([
    { ...row, userId: fay.user.id },
    { ...row, userId: gus.user.id, promptTokens: 100 },
  ]);
  const summary = (await api.trpc('query', 'usage.summary', { from: day, to: day, groupBy: 'group' }, admin.cookie)).data as { rows: { label: string | null; promptTokens: number }[] };
  expect(summary.rows.find((r) => r.label === 'analysts')).toMatchObject({ promptTokens: 10 });
  expect(summary.rows.find((r) => r.label === null)!.promptTokens).toBeGreaterThanOrEqual(100);

  const bad: [string, unknown, number, RegExp][] = [
    ['groups.create', { name: '   ' }, 400, /name: a group needs a name/],
    ['groups.create', { name: 'analysts' }, 409, /name: a group named 'analysts' exists/],
    ['groups.create', { name: 'x'.repeat(65) }, 400, /name: at most 64 characters/],
    ['groups.create', { name: 'tab\there' }, 400, /name: no control characters/],
    ['groups.create', { name: 'ok', junk: 1 }, 400, /junk/],
    ['groups.setLink', { groupId, source: 'ldap', external: 'not a dn', present: true }, 400, /external: 'not a dn' is not an LDAP group DN/],
    ['groups.setLink', { groupId, source: 'saml', external: 'x', present: true }, 400, /source/],
    ['groups.setGrant', { groupId, deploymentId: '00000000-0000-4000-8000-000000000000', granted: true }, 404, /deploymentId: no such deployment/],
    ['groups.addMember', { groupId, userId: fay.user.id }, 409, /already a member/],
    ['groups.addMember', { groupId: '00000000-0000-4000-8000-000000000000', userId: fay.user.id }, 404, /No such group/],
    ['groups.removeMember', { groupId, userId: gus.user.id }, 404, /not a member/],
  ];
  for (const [path, input, status, message] of bad) {
    const res = await call(path, input);
    expect([path, res.status, res.error?.message]).toEqual([path, status, expect.stringMatching(message)]);
  }
  // Plain users reach none of it.
  expect((await call('groups.create', { name: 'mine' }, fay.cookie)).status).toBe(403);
});
