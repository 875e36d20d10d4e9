import { asc, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { gpuSamples } from '../../db/schema';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeNode } from '../../testing/factories';
import { gpuSeries } from './series';
import { thinGpuSamples } from './retention';

let t: TestDatabase;
beforeAll(async () => (t = await createTestDatabase('retention')));
afterAll(async () => t?.drop());

it('thins samples older than a week into 4-minute rows with the same chart aggregates, and drops those past 30 days', async () => {
  const now = new Date('2026-07-30T00:00:00Z');
  const node = await makeNode(t.db, { name: 'n', lastHeartbeatAt: null });
  const day = 86_400_000;
  const rows = [];
  // 8 minutes of 15 s samples, 10 days ago (old) and 1 day ago (recent), and one 40 days ago.
  for (const age of [10 * day, 1 * day]) {
    for (let i = 0; i < 32; i++) {
      rows.push({ nodeId: node.id, gpuIndex: 0, at: new Date(now.getTime() - age + i * 15_000), utilizationPct: i % 2 ? 100 : 0, memoryUsedMiB: 1000 + i, memoryTotalMiB: 80_000, temperatureC: 50 + i, powerW: i % 2 ? 300 : 100 });
    }
  }
  rows.push({ nodeId: node.id, gpuIndex: 0, at: new Date(now.getTime() - 40 * day), utilizationPct: 1, memoryUsedMiB: 1, memoryTotalMiB: 1, temperatureC: 1, powerW: 1 });
  await t.db.insert(gpuSamples).values(rows);
  const before = await gpuSeries(t.db, { nodeId: node.id, window: 'week' }, now);

  expect(await thinGpuSamples(t.db, now)).toEqual({ thinned: 30, expired: 1 });
  const left = await t.db.select().from(gpuSamples).orderBy(asc(gpuSamples.at));
  expect(left).toHaveLength(2 + 32);
  expect(left[0]).toMatchObject({ utilizationPct: 50, memoryUsedMiB: 1015, temperatureC: 65, powerW: 200 });
  // The week chart draws the same points before and after.
  expect(await gpuSeries(t.db, { nodeId: node.id, window: 'week' }, now)).toEqual(before);
  expect(await thinGpuSamples(t.db, now)).toEqual({ thinned: 0, expired: 0 });
  const [{ n }] = (await t.db.select({ n: sql<number>`count(*)::int` }).from(gpuSamples)) as [{ n: number }];
  expect(n).toBe(34);
});
