import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { sessions } from '../server/db/schema';
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
