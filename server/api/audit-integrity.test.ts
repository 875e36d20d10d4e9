import { randomBytes } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiKeys, auditLog, users } from '../db/schema';
import { metricsRegistry } from '../core/metrics';
import { closeRedis } from '../core/redis';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { startApiTestServer } from './testing/api-test-server';

// Finding 1 of issue 9 and its class: a change and its audit row commit together or not at all, and
// no input reaches the database (the change or its audit row) with a NUL, a lone surrogate or a key the
// procedure does not know. Finding 6: refusals of anonymous callers cannot flood the audit log.
process.env.REDIS_PREFIX = testRedisPrefix('auditint');
let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
let admin: { cookie: string; user: { id: string } };

beforeAll(async () => {
  t = await createTestDatabase('auditint');
  api = await startApiTestServer({ db: t.db, masterKey: randomBytes(32) });
  admin = await api.userSession('admin');
});
afterAll(async () => {
  await api?.close();
  await closeRedis();
  await t?.drop();
});

const rowsFor = (action: string) => t.db.select().from(auditLog).where(eq(auditLog.action, action)).orderBy(auditLog.id);

it('a NUL or lone surrogate anywhere in an input is a 400 naming the field, and nothing is stored', async () => {
  const cases: [string, unknown, string][] = [
    ['users.create', { email: 'nul@example.test', password: 'long enough', role: 'admin', junk: '\u0000' }, 'junk: contains a NUL character (\\u0000)'],
    ['users.create', { email: 'nul\u0000@example.test', password: 'long enough', role: 'admin' }, 'email: contains a NUL character (\\u0000)'],
    ['keys.create', { name: 'k\u0000' }, 'name: contains a NUL character (\\u0000)'],
    ['conversations.create', { title: 'half a pair \ud800' }, 'title: contains an unpaired UTF-16 surrogate'],
    ['keys.create', { name: 'k', models: ['a', 'b\udc00'] }, 'models[1]: contains an unpaired UTF-16 surrogate'],
    ['keys.create', { name: 'k', ['bad\u0000key']: 1 }, '"bad?key": has a key that contains a NUL character (\\u0000)'],
  ];
  for (const [path, input, message] of cases) {
    const res = await api.trpc('mutation', path, input, admin.cookie);
    expect([path, res.status, res.error?.message]).toEqual([path, 400, message]);
  }
  expect(await t.db.select().from(users).where(sql`${users.email} LIKE 'nul%'`)).toEqual([]);
  expect(await t.db.select().from(apiKeys)).toEqual([]);
  // Refused before anything ran, and audited as such (the signed-in admin is accountable).
  expect((await rowsFor('users.create')).map((r) => [r.outcome, r.detail])).toEqual([
    ['failure', { error: 'BAD_REQUEST' }],
    ['failure', { error: 'BAD_REQUEST' }],
  ]);
  const signIn = await api.trpc('mutation', 'auth.signIn', { email: 'a\u0000@example.test', password: 'whatever-password' });
  expect([signIn.status, signIn.error?.message]).toEqual([400, 'email: contains a NUL character (\\u0000)']);
  const query = await api.trpc('query', 'conversations.list', { search: 'x\u0000' }, admin.cookie);
  expect([query.status, query.error?.message]).toEqual([400, 'search: contains a NUL character (\\u0000)']);
  const verify = await api.trpc('query', 'audit.verify', undefined, admin.cookie);
  expect(verify.data.ok).toBe(true);
});

it('a key the procedure does not know is dropped: the change happens, its audit row never holds it', async () => {
  const res = await api.trpc('mutation', 'users.create', { email: 'extra@example.test', password: 'long enough', role: 'viewer', shadow: 'smuggled-value', id: 'not-an-id-of-anything' }, admin.cookie);
  expect(res.status).toBe(200);
  const [row] = (await rowsFor('users.create')).filter((r) => r.outcome === 'success');
  expect(row!.detail).toEqual({ email: 'extra@example.test', role: 'viewer' });
  expect(row!.target).toBe(res.data.id);
  expect(JSON.stringify(row)).not.toContain('smuggled-value');
});

it('a change whose audit row cannot be written is not committed: 500, and no row of either', async () => {
  // The audit write fails for this one action, as a jsonb NUL once made it fail after the commit.
  await t.db.execute(sql`
    CREATE FUNCTION refuse_user_audit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.action = 'users.create' AND NEW.outcome = 'success' THEN RAISE EXCEPTION 'audit write failed on purpose'; END IF;
      RETURN NEW;
    END $$`);
  await t.db.execute(sql`CREATE TRIGGER refuse_user_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_user_audit()`);
  try {
    const res = await api.trpc('mutation', 'users.create', { email: 'ghost@example.test', password: 'long enough', role: 'admin' }, admin.cookie);
    expect([res.status, res.error?.message]).toEqual([500, 'Internal error']);
    expect(await t.db.select().from(users).where(eq(users.email, 'ghost@example.test'))).toEqual([]);
  } finally {
    await t.db.execute(sql`DROP TRIGGER refuse_user_audit ON audit_log`);
    await t.db.execute(sql`DROP FUNCTION refuse_user_audit()`);
  }
  // The same call goes through once the audit log takes rows again.
  const again = await api.trpc('mutation', 'users.create', { email: 'ghost@example.test', password: 'long enough', role: 'admin' }, admin.cookie);
  expect(again.status).toBe(200);
  const [audited] = await t.db.select().from(auditLog).where(and(eq(auditLog.action, 'users.create'), eq(auditLog.target, again.data.id)));
  expect(audited!.outcome).toBe('success');
});

it("a refused mutation changes nothing and is audited with the input's ids, as its procedure read them", async () => {
  const owner = await api.userSession('user');
  const other = await api.userSession('user');
  const conv = await api.trpc('mutation', 'conversations.create', { title: 'first' }, owner.cookie);
  const bad = await api.trpc('mutation', 'conversations.rename', { id: conv.data.id, title: 'taken over', note: 'dropped' }, other.cookie);
  expect(bad.status).toBe(404);
  expect((await api.trpc('query', 'conversations.get', { id: conv.data.id }, owner.cookie)).data.title).toBe('first');
  const failures = (await rowsFor('conversations.rename')).filter((r) => r.outcome === 'failure');
  expect(failures.map((r) => [r.actorUserId, r.target, r.detail])).toEqual([[other.user.id, conv.data.id, { id: conv.data.id, error: 'NOT_FOUND' }]]);
});

it('a batched forbidden POST from nobody: one refusal per request, all counted, only a sample written', async () => {
  const metric = async () => (await metricsRegistry().getSingleMetric('enclave_anonymous_denials_total')?.get())?.values.find((v) => v.labels.reason === 'CROSS_SITE')?.value ?? 0;
  const before = await metric();
  const rowsBefore = (await t.db.select({ n: sql<number>`count(*)::int` }).from(auditLog))[0]!.n;
  const batch = Array.from({ length: 40 }, () => 'users.create').join(',');
  const answers = await Promise.all(
    Array.from({ length: 100 }, () => api.request(`/api/trpc/${batch}?batch=1`, { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } }).then((r) => r.status)),
  );
  expect(answers).toEqual(Array(100).fill(403));
  expect((await metric()) - before).toBe(100);
  const rowsAfter = (await t.db.select({ n: sql<number>`count(*)::int` }).from(auditLog))[0]!.n;
  // It was one row per procedure per request: 4,000 rows for these 100 requests.
  expect(rowsAfter - rowsBefore).toBeLessThanOrEqual(20);
  const sample = await t.db.select().from(auditLog).where(eq(auditLog.action, 'api.batch')).limit(1);
  expect(sample[0]).toMatchObject({ outcome: 'denied', actorUserId: null, detail: { error: 'CROSS_SITE', sampled: true } });
});
