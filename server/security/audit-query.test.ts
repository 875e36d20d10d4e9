import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiTestServer } from '../api/testing/api-test-server';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeDeployment, makeUser } from '../testing/factories';
import { tamperWithAuditLog } from '../testing/audit-tamper';
import { writeAudit } from './audit';
import { listAuditFiltered, type AuditFilter } from './audit-query';
import { createApiKey } from './api-keys';
import { createSession } from './sessions';

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const masterKey = randomBytes(32);
let admin: Awaited<ReturnType<typeof makeUser>>;
let alice: Awaited<ReturnType<typeof makeUser>>;
let keyId: string;
let deploymentId: string;

beforeAll(async () => {
  t = await createTestDatabase('auditquery');
  api = await startApiTestServer({ db: t.db, masterKey });
  admin = await makeUser(t.db, { role: 'admin', email: 'dpo@example.test' });
  alice = await makeUser(t.db, { email: 'alice@example.test' });
  keyId = (await createApiKey(t.db, { userId: alice.id, name: 'alice-ci', models: null })).id;
  deploymentId = (await makeDeployment(t.db, { name: 'qwen-prod' })).deployment.id;
  await writeAudit(t.db, { actorUserId: admin.id, actorLabel: admin.email, action: 'users.disable', target: alice.id, outcome: 'success' });
  await writeAudit(t.db, { actorUserId: alice.id, actorLabel: alice.email, action: 'auth.signIn', outcome: 'success' });
  await writeAudit(t.db, { actorLabel: 'alice@example.test', action: 'auth.signIn', outcome: 'failure', detail: { reason: 'bad-password' } });
  await writeAudit(t.db, { actorUserId: alice.id, actorLabel: 'alice-ci', action: 'gateway.v1_calls', target: keyId, outcome: 'success', detail: { requests: 3 } });
  await writeAudit(t.db, { actorUserId: admin.id, actorLabel: admin.email, action: 'deployments.stop', target: deploymentId, outcome: 'denied' });
}, 60_000);
afterAll(async () => {
  await api?.close();
  await t?.drop();
});

const actions = async (f: AuditFilter) => (await listAuditFiltered(t.db, f, { limit: 50 })).rows.map((r) => r.action);

describe('the audit page query', () => {
  it('filters by actor (email, id or label), action or family, target (id or name), outcome and time', async () => {
    expect(await actions({ actor: 'ALICE@example.test' })).toEqual(['gateway.v1_calls', 'auth.signIn', 'auth.signIn']);
    expect(await actions({ actor: admin.id })).toEqual(['deployments.stop', 'users.disable']);
    expect(await actions({ actor: 'alice-ci' })).toEqual(['gateway.v1_calls']);
    expect(await actions({ action: 'auth.' })).toEqual(['auth.signIn', 'auth.signIn']);
    expect(await actions({ action: 'auth.signIn', outcome: 'failure' })).toEqual(['auth.signIn']);
    expect(await actions({ target: 'alice@example.test' })).toEqual(['users.disable']);
    expect(await actions({ target: 'qwen-prod' })).toEqual(['deployments.stop']);
    expect(await actions({ target: keyId })).toEqual(['gateway.v1_calls']);
    expect(await actions({ from: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    expect(await actions({ to: new Date(Date.now() + 60_000).toISOString(), outcome: 'denied' })).toEqual(['deployments.stop']);
    // A LIKE wildcard in a filter is a literal character.
    expect(await actions({ action: '%.' })).toEqual([]);
    expect(await actions({ action: '%' })).toEqual([]);
  });

  it('takes a family without its dot, but not a mere prefix of a name', async () => {
    expect(await actions({ action: 'auth' })).toEqual(['auth.signIn', 'auth.signIn']);
    expect(await actions({ action: 'deployments' })).toEqual(['deployments.stop']);
    expect(await actions({ action: 'aut' })).toEqual([]);
    expect(await actions({ action: 'auth.sign' })).toEqual([]);
  });

  it('combines actor, action, outcome and a time window; refuses a window that ends before it starts', async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    expect(await actions({ actor: 'alice@example.test', action: 'auth', outcome: 'success', from, to })).toEqual(['auth.signIn']);
    expect(await actions({ actor: 'alice@example.test', action: 'auth', to: from })).toEqual([]);
    await expect(listAuditFiltered(t.db, { from: to, to: from }, { limit: 5 })).rejects.toThrow(/"from" must not be after its "to"/);
  });

  it('offers a next page only when there is one: a trail of exactly one page ends there', async () => {
    const total = (await listAuditFiltered(t.db, {}, { limit: 500 })).rows.length;
    const exact = await listAuditFiltered(t.db, {}, { limit: total });
    expect([exact.rows.length, exact.nextCursor]).toEqual([total, null]);
    const short = await listAuditFiltered(t.db, {}, { limit: total - 1 });
    expect(short.nextCursor).toBe(short.rows.at(-1)!.id);
    const last = await listAuditFiltered(t.db, {}, { limit: total - 1, beforeId: short.nextCursor! });
    expect([last.rows.length, last.nextCursor]).toEqual([1, null]);
  });

  it('names ids: users by email, keys and deployments by name', async () => {
    const { names } = await listAuditFiltered(t.db, {}, { limit: 50 });
    expect(names[alice.id]).toEqual({ kind: 'user', name: 'alice@example.test' });
    expect(names[keyId]).toEqual({ kind: 'key', name: 'alice-ci' });
    expect(names[deploymentId]).toEqual({ kind: 'deployment', name: 'qwen-prod' });
  });

  it('pages newest first by id with a cursor, every row once', async () => {
    const seen: number[] = [];
    let cursor: number | undefined;
    for (;;) {
      const page = await listAuditFiltered(t.db, {}, { limit: 2, beforeId: cursor });
      seen.push(...page.rows.map((r) => r.id));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    const all = (await t.db.execute<{ id: number }>(sql`SELECT id::int FROM audit_log ORDER BY id DESC`)).rows.map((r) => r.id);
    expect(seen).toEqual(all);
  });

  it('exports the filtered rows as CSV and JSONL to admins only, and audits the export', async () => {
    const cookie = `enclave_session=${(await createSession(t.db, admin.id, { hours: 1 })).token}`;
    const csv = await api.request('/api/audit/export?format=csv&actor=alice%40example.test', { cookie });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="enclave-audit-.*\.csv"/);
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('id,at,actor_user_id,actor,action,target,target_name,outcome,client_address,detail');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toContain(',alice@example.test,gateway.v1_calls,' + keyId + ',alice-ci,success,');
    const jsonl = await api.request('/api/audit/export?format=jsonl&action=auth.signIn&outcome=failure', { cookie });
    const rows = (await jsonl.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'auth.signIn', outcome: 'failure', detail: { reason: 'bad-password' } });
    const audited = await listAuditFiltered(t.db, { action: 'audit.export' }, { limit: 10 });
    expect(audited.rows.map((r) => [r.actorUserId, r.detail.format, r.detail.rows])).toContainEqual([admin.id, 'csv', 3]);
    // Bad input names the field; anyone but an admin is refused.
    const bad = await api.request('/api/audit/export?format=csv&outcome=maybe', { cookie });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/outcome/);
    expect((await api.request('/api/audit/export?format=xml', { cookie })).status).toBe(400);
    const userCookie = `enclave_session=${(await createSession(t.db, alice.id, { hours: 1 })).token}`;
    expect((await api.request('/api/audit/export', { cookie: userCookie })).status).toBe(403);
    expect((await api.request('/api/audit/export')).status).toBe(401);
  });
});

/**
 * Millions of rows, made by SQL (hashes are placeholders: this measures paging, not the chain). Set
 * AUDIT_BENCH_ROWS (e.g. 3000000) for the figure in the README; the default keeps the suite quick.
 */
describe('paging over many rows', () => {
  const n = Number(process.env.AUDIT_BENCH_ROWS ?? 200_000);
  it(`serves a page in well under a second over ${n} rows, first or deep, filtered or not`, async () => {
    const started = performance.now();
    await t.db.execute(sql`
      INSERT INTO audit_log (at, actor_user_id, actor_label, action, target, outcome, detail, prev_hash, hash)
      SELECT now() - make_interval(secs => (${n} - g) * 5), CASE WHEN g % 97 = 0 THEN ${alice.id}::uuid END, 'bench',
        (ARRAY['auth.signIn','chat.send','users.list','gateway.v1_calls','datasets.download'])[1 + g % 5],
        'target-' || (g % 1000), (ARRAY['success','success','success','failure','denied'])[1 + g % 5], '{}'::jsonb, 'x', 'x'
      FROM generate_series(1, ${n}) g`);
    await t.db.execute(sql`ANALYZE audit_log`);
    const made = performance.now() - started;
    const time = async (f: AuditFilter, beforeId?: number) => {
      const t0 = performance.now();
      const page = await listAuditFiltered(t.db, f, { limit: 50, beforeId });
      return { ms: performance.now() - t0, rows: page.rows.length };
    };
    const deep = Math.floor(n / 2);
    const figures = {
      first: await time({}),
      deep: await time({}, deep),
      byActor: await time({ actor: 'alice@example.test' }),
      byActorDeep: await time({ actor: 'alice@example.test' }, deep),
      byAction: await time({ action: 'chat.send' }, deep),
      byTarget: await time({ target: 'target-42' }),
      byOutcome: await time({ outcome: 'denied' }, deep),
      lastWeek: await time({ from: new Date(Date.now() - 7 * 86_400_000).toISOString(), action: 'auth.' }),
    };
    console.log(JSON.stringify({ rows: n, insertMs: Math.round(made), pages: Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, `${v.ms.toFixed(1)} ms`])) }));
    for (const [name, f] of Object.entries(figures)) {
      expect(f.rows, name).toBe(50);
      expect(f.ms, name).toBeLessThan(1000);
    }
    await tamperWithAuditLog(t.db, `DELETE FROM audit_log WHERE actor_label = 'bench'`);
  }, 600_000);
});
