import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { eq } from 'drizzle-orm';
import { loadTests, sessions } from '../server/db/schema';
import { createTestDatabase, type TestDatabase } from '../server/testing/database';
import { makeLoadTest, makeUser } from '../server/testing/factories';
import { runMaintenance } from './maintenance';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('maint');
});
afterAll(async () => t?.drop());

test('sessions task removes expired sessions only', async () => {
  const user = await makeUser(t.db);
  await t.db.insert(sessions).values([
    { tokenHash: 'old', userId: user.id, expiresAt: new Date(Date.now() - 1000) },
    { tokenHash: 'live', userId: user.id, expiresAt: new Date(Date.now() + 60_000) },
  ]);
  expect(await runMaintenance(t.db, { task: 'sessions' })).toEqual({ removed: 1 });
  const left = await t.db.select().from(sessions);
  expect(left.map((s) => s.tokenHash)).toEqual(['live']);
});

test('partitions task creates the coming days partitions', async () => {
  await t.db.execute(sql.raw(`DROP TABLE IF EXISTS "request_logs_${new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '')}"`));
  await runMaintenance(t.db, { task: 'partitions' });
  const name = `request_logs_${new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '')}`;
  const found = await t.db.execute(sql`SELECT to_regclass(${name}) AS r`);
  expect(found.rows[0]!.r).toBe(name);
});

test('audit-upkeep task creates the coming months of audit_log, archives nothing younger than retention, and sums the last hours of /v1 calls', async () => {
  const ahead = new Date();
  ahead.setUTCMonth(ahead.getUTCMonth() + 3, 1);
  const name = `audit_log_${ahead.getUTCFullYear()}${String(ahead.getUTCMonth() + 1).padStart(2, '0')}`;
  const result = await runMaintenance(t.db, { task: 'audit-upkeep' });
  expect(result.audit?.archive).toEqual({ ok: true, archived: [] });
  expect(result.audit?.v1.hours.length).toBeGreaterThan(0);
  const found = await t.db.execute(sql`SELECT to_regclass(${name}) AS r`);
  expect(found.rows[0]!.r).toBe(name);
});

test('nodes task fails load tests whose worker stopped writing progress, and leaves live ones alone', async () => {
  const owner = await makeUser(t.db, { role: 'engineer' });
  const base = { ownerId: owner.id, status: 'running' as const };
  const dead = await makeLoadTest(t.db, { ...base, name: 'dead', startedAt: new Date(Date.now() - 600_000), progress: { done: 3, heartbeatAt: Date.now() - 300_000 } });
  const live = await makeLoadTest(t.db, { ...base, name: 'live', startedAt: new Date(Date.now() - 600_000), progress: { done: 9, heartbeatAt: Date.now() - 1_000 } });
  // Started a moment ago, no progress written yet.
  const quiet = await makeLoadTest(t.db, { ...base, name: 'just started', startedAt: new Date(), progress: {} });
  const result = await runMaintenance(t.db, { task: 'nodes' });
  expect(result.abandonedLoadTests).toEqual([dead.id]);
  const status = async (id: string) => (await t.db.select().from(loadTests).where(eq(loadTests.id, id)))[0]!;
  expect(await status(dead.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/worker .* stopped/) });
  expect((await status(live.id)).status).toBe('running');
  expect((await status(quiet.id)).status).toBe('running');
});

test('a task still running on another worker is not run a second time beside it', async () => {
  const user = await makeUser(t.db);
  await t.db.insert(sessions).values({ tokenHash: 'expired-while-busy', userId: user.id, expiresAt: new Date(Date.now() - 1000) });
  // Another worker's run of the same task, holding its lock on a session of its own.
  const holder = await t.db.$client.connect();
  try {
    await holder.query(`SELECT pg_advisory_lock(hashtext('enclave.maintenance:sessions'))`);
    expect(await runMaintenance(t.db, { task: 'sessions' })).toEqual({ skipped: 'busy' });
    expect((await t.db.select().from(sessions).where(eq(sessions.tokenHash, 'expired-while-busy'))).length).toBe(1);
    // A different task runs meanwhile.
    expect(await runMaintenance(t.db, { task: 'partitions' })).toEqual({});
  } finally {
    await holder.query(`SELECT pg_advisory_unlock_all()`);
    holder.release();
  }
  expect(await runMaintenance(t.db, { task: 'sessions' })).toEqual({ removed: 1 });
});
