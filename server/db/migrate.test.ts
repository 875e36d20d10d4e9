import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { applyMigrations } from './migrate';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { auditLog, requestLogs, roles } from './schema';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('migrate');
});
afterAll(async () => t?.drop());

test('migrations seed the four roles and are idempotent', async () => {
  await applyMigrations(t.db);
  const rows = await t.db.select().from(roles);
  expect(rows.map((r) => r.name).sort()).toEqual(['admin', 'engineer', 'user', 'viewer']);
});

test('request_logs is partitioned by day and accepts rows for any date', async () => {
  const parts = await t.db.execute(sql`SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'request_logs'::regclass`);
  const names = parts.rows.map((r) => String(r.name));
  const today = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  expect(names).toContain(`request_logs_${today}`);
  expect(names).toContain('request_logs_default');
  await t.db.insert(requestLogs).values([
    { model: 'm', status: 200, e2eMs: 1, overheadMs: 0.1 },
    { model: 'm', status: 200, e2eMs: 1, overheadMs: 0.1, createdAt: new Date('2001-01-01') },
  ]);
  const counted = await t.db.execute(sql`SELECT count(*)::int AS n FROM request_logs`);
  expect(counted.rows[0]!.n).toBe(2);
});

test('audit_log refuses updates and deletes', async () => {
  await t.db.insert(auditLog).values({ action: 'x', outcome: 'success', prevHash: '0', hash: '1' });
  const failure = (p: Promise<unknown>) => p.then(() => 'no error', (e) => String(e.cause?.message ?? e.message));
  expect(await failure(t.db.update(auditLog).set({ action: 'y' }))).toMatch(/append-only/);
  expect(await failure(t.db.delete(auditLog))).toMatch(/append-only/);
});
