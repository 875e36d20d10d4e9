import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeRedis } from '../core/redis';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { startHealthServer } from './testing/health-server';

// A Redis that answers PING but has no database 99999: the shared client falls back to database 0 unless told.
process.env.REDIS_URL = 'redis://127.0.0.1:6379/99999';

let t: TestDatabase;
let health: Awaited<ReturnType<typeof startHealthServer>>;
beforeAll(async () => {
  t = await createTestDatabase('healthredis');
  health = await startHealthServer(t.db);
});
afterAll(async () => {
  await health?.close();
  await closeRedis();
  await t?.drop();
});

it('reports degraded (503) when Redis cannot use the configured database index, and tells staff why', async () => {
  const anonymous = await health.get();
  expect(anonymous.status).toBe(503);
  expect(JSON.parse(anonymous.text)).toEqual({ status: 'degraded' });

  const detail = await health.get(await health.cookieFor('admin'));
  expect(detail.status).toBe(503);
  expect(JSON.parse(detail.text)).toMatchObject({ status: 'degraded', postgres: { ok: true }, redis: { ok: false, error: expect.stringMatching(/DB index is out of range/) } });
});
