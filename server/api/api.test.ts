import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../db/client';
import { auditLog, conversations } from '../db/schema';
import { guardPage } from '../roles/page-guard';
import { makeDeployment } from '../testing/factories';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { startApiTestServer } from './testing/api-test-server';

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const masterKey = randomBytes(32);
beforeAll(async () => {
  t = await createTestDatabase('api');
  api = await startApiTestServer({ db: t.db, masterKey });
});
afterAll(async () => {
  await api?.close();
  await t?.drop();
});

describe('RBAC', () => {
  const adminOnly: [kind: 'query' | 'mutation', path: string, input: unknown][] = [
    ['query', 'users.list', undefined],
    ['mutation', 'users.create', { email: 'x@example.test', password: 'password-x', role: 'user' }],
    ['mutation', 'users.setRole', { id: '00000000-0000-4000-8000-000000000000', role: 'admin' }],
    ['mutation', 'users.setDisabled', { id: '00000000-0000-4000-8000-000000000000', disabled: true }],
    ['query', 'audit.list', { limit: 10 }],
    ['query', 'audit.verify', undefined],
  ];

  it.each(['engineer', 'user', 'viewer'])('refuses every admin-only procedure to %s', async (role) => {
    const { cookie } = await api.userSession(role);
    for (const [kind, path, input] of adminOnly) {
      const res = await api.trpc(kind, path, input, cookie);
      expect([path, res.status, res.error?.data.code]).toEqual([path, 403, 'FORBIDDEN']);
    }
    const denied = await t.db.select().from(auditLog).where(eq(auditLog.outcome, 'denied'));
    expect(denied.filter((r) => r.action === 'users.create' && r.detail.role === 'user').length).toBeGreaterThan(0);
    expect(denied.filter((r) => r.action === 'audit.list').length).toBeGreaterThan(0);
    expect(JSON.stringify(denied)).not.toContain('password-x');
  });

  it('lets an admin manage users, and audits each mutation', async () => {
    const { cookie, user: admin } = await api.userSession('admin');
    const created = await api.trpc('mutation', 'users.create', { email: 'new@example.test', password: 'new-password', role: 'viewer' }, cookie);
    expect(created.status).toBe(200);
    expect(created.data).toMatchObject({ email: 'new@example.test', role: 'viewer' });
    expect(created.data.passwordHash).toBeUndefined();
    expect((await api.trpc('mutation', 'users.setRole', { id: created.data.id, role: 'engineer' }, cookie)).data.role).toBe('engineer');
    const dup = await api.trpc('mutation', 'users.create', { email: 'new@example.test', password: 'new-password', role: 'viewer' }, cookie);
    expect([dup.status, dup.error?.message]).toEqual([409, 'A user with the email new@example.test already exists']);
    const bad = await api.trpc('mutation', 'users.create', { email: 'x@example.test', password: 'new-password', role: 'root' }, cookie);
    expect(bad.status).toBe(400);
    expect(bad.error?.message).toMatch(/^role: /);
    const list = await api.trpc('query', 'users.list', undefined, cookie);
    expect(list.data.map((u: { email: string }) => u.email)).toContain('new@example.test');
    const rows = await t.db.select().from(auditLog).where(eq(auditLog.actorUserId, admin.id)).orderBy(auditLog.id);
    expect(rows.map((r) => [r.action, r.outcome])).toEqual([
      ['auth.signIn', 'success'],
      ['users.create', 'success'],
      ['users.setRole', 'success'],
      ['users.create', 'failure'],
      ['users.create', 'failure'],
      ['users.list', 'success'], // reading other people's data is audited too
    ]);
    expect(rows[2]!.target).toBe(created.data.id);
    expect(JSON.stringify(rows)).not.toContain('new-password');
    expect((await api.trpc('query', 'audit.verify', undefined, cookie)).data.ok).toBe(true);
  });

  it('answers UNAUTHORIZED without a session, and me() is null', async () => {
    expect((await api.trpc('query', 'conversations.list', {})).status).toBe(401);
    expect((await api.trpc('query', 'auth.me', undefined)).data).toBeNull();
  });

  it('lists only models the role may use, with readiness from replicas', async () => {
    await makeDeployment(t.db, { name: 'open-model' }, ['http://127.0.0.1:1']);
    await makeDeployment(t.db, { name: 'engineers-only', allowedRoles: ['engineer', 'admin'] });
    const { cookie } = await api.userSession('user');
    const models = (await api.trpc('query', 'models.list', undefined, cookie)).data;
    expect(models).toEqual([{ name: 'open-model', engine: 'llamacpp', status: 'ready', ready: true }]);
    const eng = await api.userSession('engineer');
    const engModels = (await api.trpc('query', 'models.list', undefined, eng.cookie)).data;
    expect(engModels.map((m: { name: string; ready: boolean }) => [m.name, m.ready])).toEqual([
      ['engineers-only', false],
      ['open-model', true],
    ]);
  });
});

describe('CSRF', () => {
  it('refuses mutations that are not JSON or come from another origin', async () => {
    const { cookie, user } = await api.userSession('user');
    const form = await api.request('/api/trpc/conversations.create', { method: 'POST', cookie, body: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(403);
    const text = await api.request('/api/trpc/conversations.create', { method: 'POST', cookie, body: '{}', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(403);
    const foreign = await api.trpc('mutation', 'conversations.create', {}, cookie, { origin: 'https://evil.example' });
    expect([foreign.status, foreign.error?.message]).toEqual([403, 'Cross-site request refused: the Origin does not match this site']);
    const chat = await api.request('/api/trpc/chat.send?batch=1', { method: 'POST', cookie, body: '{}', headers: { 'content-type': 'text/plain', 'trpc-accept': 'application/jsonl' } });
    expect(chat.status).toBe(403);
    expect(await t.db.select().from(conversations).where(eq(conversations.userId, user.id))).toEqual([]);

    const sameOrigin = await api.trpc('mutation', 'conversations.create', {}, cookie, { origin: api.base });
    expect(sameOrigin.status).toBe(200);
    const denied = await t.db.select().from(auditLog).where(eq(auditLog.actorUserId, user.id));
    expect(denied.filter((r) => r.outcome === 'denied').map((r) => r.action)).toEqual(['conversations.create', 'conversations.create', 'conversations.create', 'chat.send']);
  });
});

describe('data scoping', () => {
  it("keeps user A's conversation invisible to user B everywhere", async () => {
    const a = await api.userSession('user');
    const b = await api.userSession('user');
    const { data } = await api.trpc('mutation', 'conversations.create', { title: 'A private plan' }, a.cookie);
    const id = data.id as string;

    for (const [kind, path, input] of [
      ['query', 'conversations.get', { id }],
      ['mutation', 'conversations.rename', { id, title: 'mine now' }],
      ['mutation', 'conversations.setContext', { id, policy: 'trim' }],
      ['mutation', 'conversations.delete', { id }],
    ] as const) {
      const res = await api.trpc(kind, path, input, b.cookie);
      expect([path, res.status, res.error?.message]).toEqual([path, 404, 'Conversation not found']);
    }
    expect((await api.trpc('query', 'conversations.list', {}, b.cookie)).data).toEqual([]);
    const exported = await api.request(`/api/conversations/${id}/export?format=json`, { cookie: b.cookie });
    expect(exported.status).toBe(404);

    const own = await api.trpc('query', 'conversations.get', { id }, a.cookie);
    expect(own.data).toMatchObject({ id, title: 'A private plan', messages: [] });
    const md = await api.request(`/api/conversations/${id}/export?format=md`, { cookie: a.cookie });
    expect(md.status).toBe(200);
    expect(await md.text()).toContain('# A private plan');

    const req = (cookie: string) => ({ headers: { cookie }, url: `/c/${id}` });
    expect(await guardPage(t.db, req(b.cookie), `/c/${id}`)).toEqual({ kind: 'not-found' });
    expect(await guardPage(t.db, req(a.cookie), `/c/${id}`)).toEqual({ kind: 'next' });
    expect(await guardPage(t.db, req(a.cookie), '/c/not-a-uuid')).toEqual({ kind: 'not-found' });

    expect((await api.trpc('query', 'conversations.get', { id: 'not-a-uuid' }, a.cookie)).status).toBe(404);
    const renamed = await api.trpc('mutation', 'conversations.rename', { id, title: 'Renamed' }, a.cookie);
    expect(renamed.status).toBe(200);
    expect((await api.trpc('query', 'conversations.list', { search: 'renam' }, a.cookie)).data.map((c: { id: string }) => c.id)).toEqual([id]);
    expect((await api.trpc('mutation', 'conversations.delete', { id }, a.cookie)).status).toBe(200);
    expect((await api.trpc('query', 'conversations.get', { id }, a.cookie)).status).toBe(404);
  });
});

describe('page guard', () => {
  it('sends visitors to sign in, keeps /admin for admins, and /login for visitors', async () => {
    const visitor = { headers: {}, url: '/c/abc?x=1' };
    expect(await guardPage(t.db, visitor, '/c/abc')).toEqual({ kind: 'redirect', location: '/login?next=%2Fc%2Fabc%3Fx%3D1' });
    expect(await guardPage(t.db, { headers: {}, url: '/login' }, '/login')).toEqual({ kind: 'next' });
    expect(await guardPage(t.db, { headers: {}, url: '/_next/static/x.js' }, '/_next/static/x.js')).toEqual({ kind: 'next' });
    const user = await api.userSession('engineer');
    expect(await guardPage(t.db, { headers: { cookie: user.cookie }, url: '/admin/users' }, '/admin/users')).toEqual({ kind: 'forbidden' });
    expect(await guardPage(t.db, { headers: { cookie: user.cookie }, url: '/login' }, '/login')).toEqual({ kind: 'redirect', location: '/' });
    const admin = await api.userSession('admin');
    expect(await guardPage(t.db, { headers: { cookie: admin.cookie }, url: '/admin/users' }, '/admin/users')).toEqual({ kind: 'next' });
    // Fleet pages: engineers and viewers may open them, plain users only chat.
    const at = (cookie: string, path: string) => guardPage(t.db, { headers: { cookie }, url: path }, path);
    const plain = await api.userSession('user');
    const viewer = await api.userSession('viewer');
    for (const page of ['/models', '/deployments/new', '/gpus']) {
      expect(await at(plain.cookie, page)).toEqual({ kind: 'forbidden' });
      expect(await at(viewer.cookie, page)).toEqual({ kind: 'next' });
      expect(await at(user.cookie, page)).toEqual({ kind: 'next' });
    }
    expect(await at(plain.cookie, '/modelsx')).toEqual({ kind: 'next' });
  });
});

describe('sessions over HTTP', () => {
  it('sets an HTTP-only SameSite cookie, and sign-out ends the session', async () => {
    const s = await api.userSession('viewer');
    const signIn = await api.trpc('mutation', 'auth.signIn', { email: s.email, password: s.password });
    const header = signIn.headers.get('set-cookie')!;
    expect(header).toMatch(/^enclave_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
    expect((await api.trpc('query', 'auth.me', undefined, s.cookie)).data).toMatchObject({ email: s.email, role: 'viewer', locale: 'en' });
    expect((await api.trpc('mutation', 'auth.setLocale', { locale: 'zh-CN' }, s.cookie)).status).toBe(200);
    expect((await api.trpc('query', 'auth.me', undefined, s.cookie)).data.locale).toBe('zh-CN');
    expect((await api.trpc('mutation', 'auth.setLocale', { locale: 'fr' }, s.cookie)).status).toBe(400);
    const out = await api.trpc('mutation', 'auth.signOut', undefined, s.cookie);
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect((await api.trpc('query', 'auth.me', undefined, s.cookie)).data).toBeNull();
    const wrong = await api.trpc('mutation', 'auth.signIn', { email: s.email, password: 'nope-nope' });
    expect([wrong.status, wrong.error?.message]).toEqual([401, 'Wrong email or password']);
  });
});

describe('API keys', () => {
  it('creates a key shown once, lists it without the secret, and lets only its owner revoke it', async () => {
    const a = await api.userSession('user');
    const b = await api.userSession('user');
    const created = await api.trpc('mutation', 'keys.create', { name: 'laptop', models: ['open-model'], expiresInDays: 30 }, a.cookie);
    expect(created.data.key).toMatch(/^sk-enc-/);
    const list = (await api.trpc('query', 'keys.list', undefined, a.cookie)).data;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: created.data.id, name: 'laptop', models: ['open-model'], revokedAt: null });
    expect(JSON.stringify(list)).not.toContain(created.data.key);
    expect((await api.trpc('query', 'keys.list', undefined, b.cookie)).data).toEqual([]);
    expect((await api.trpc('mutation', 'keys.revoke', { id: created.data.id }, b.cookie)).status).toBe(404);
    expect((await api.trpc('mutation', 'keys.revoke', { id: created.data.id }, a.cookie)).status).toBe(200);
    expect((await api.trpc('query', 'keys.list', undefined, a.cookie)).data[0].revokedAt).not.toBeNull();
    expect((await api.trpc('mutation', 'keys.create', { name: '' }, a.cookie)).status).toBe(400);
    const audit = await t.db.select().from(auditLog).where(eq(auditLog.action, 'keys.create'));
    expect(JSON.stringify(audit)).not.toContain(created.data.key);
  });
});

describe('internal errors', () => {
  it('answer "Internal error" without the cause', async () => {
    const a = await api.userSession('user');
    const { data } = await api.trpc('mutation', 'conversations.create', { title: 'soon unreadable' }, a.cookie);
    // A data key that no longer opens: decryption fails deep inside, with a message naming the key.
    await t.db.$client.query(`UPDATE data_keys SET wrapped_key = '\\x00'::bytea || wrapped_key`);
    // A fresh handle, as after a restart: no unwrapped key cached.
    const otherDb = createDb(t.url, 1);
    const fresh = await startApiTestServer({ db: otherDb, masterKey });
    try {
      const res = await fresh.trpc('query', 'conversations.get', { id: data.id }, a.cookie);
      expect([res.status, res.error?.message, res.error?.data.code]).toEqual([500, 'Internal error', 'INTERNAL_SERVER_ERROR']);
      expect(JSON.stringify(res.error)).not.toMatch(/sealed|decipher|auth|stack/i);
    } finally {
      await fresh.close();
      await otherDb.$client.end();
    }
  });
});
