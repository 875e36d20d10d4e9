import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { eq } from 'drizzle-orm';
import { loadTests, sessions } from '../server/db/schema';
import { createTestDatabase, type TestDatabase } from '../server/testing/database';
import { makeUser } from '../server/testing/factories';
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

test('nodes task fails load tests whose worker stopped writing progress, and leaves live ones alone', async () => {
  const owner = await makeUser(t.db, { role: 'engineer' });
  const base = { ownerId: owner.id, targetUrl: 'http://127.0.0.1:1/v1', model: 'm', spec: {}, status: 'running' as const };
  const [dead, live, quiet] = await t.db
    .insert(loadTests)
    .values([
      { ...base, name: 'dead', startedAt: new Date(Date.now() - 600_000), progress: { done: 3, heartbeatAt: Date.now() - 300_000 } },
      { ...base, name: 'live', startedAt: new Date(Date.now() - 600_000), progress: { done: 9, heartbeatAt: Date.now() - 1_000 } },
      // Started a moment ago, no progress written yet.
      { ...base, name: 'just started', startedAt: new Date(), progress: {} },
    ])
    .returning();
  const result = await runMaintenance(t.db, { task: 'nodes' });
  expect(result.abandonedLoadTests).toEqual([dead!.id]);
  const status = async (id: string) => (await t.db.select().from(loadTests).where(eq(loadTests.id, id)))[0]!;
  expect(await status(dead!.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/worker .* stopped/) });
  expect((await status(live!.id)).status).toBe('running');
  expect((await status(quiet!.id)).status).toBe('running');
});
