import { afterAll, beforeAll, expect, it } from 'vitest';
import { requestLogs } from '../../db/schema';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { E2E_BUCKET_BOUNDS_MS, quantileFromBuckets } from './latency-buckets';
import { qualityByModelDay } from './quality';
import { rollUpDay } from './rollup';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('quality');
});
afterAll(async () => {
  await t?.drop();
});

it('rolls up failure rate and latency per model and day, summed across users and keys, and reads p50/p95 from the buckets', async () => {
  const day = '2026-03-10';
  const at = (h: number) => new Date(`${day}T${String(h).padStart(2, '0')}:00:00Z`);
  const rows: (typeof requestLogs.$inferInsert)[] = [];
  // qwen: 20 requests over two users, 2 failures; e2e 100 ms × 18, 3000 ms × 2.
  for (let i = 0; i < 20; i++) rows.push({ createdAt: at(1 + (i % 5)), model: 'qwen', status: i < 2 ? 503 : 200, e2eMs: i < 2 ? 3000 : 100, ttftMs: i < 2 ? null : 40, overheadMs: 1, userId: i % 2 ? '00000000-0000-4000-8000-000000000001' : null });
  // llama: 4 requests, all fine, 600 ms.
  for (let i = 0; i < 4; i++) rows.push({ createdAt: at(7), model: 'llama', status: 200, e2eMs: 600, ttftMs: 80, overheadMs: 1 });
  // Another day, not in the range.
  rows.push({ createdAt: new Date('2026-03-12T01:00:00Z'), model: 'qwen', status: 500, e2eMs: 10, overheadMs: 1 });
  await t.db.insert(requestLogs).values(rows);
  await rollUpDay(t.db, day);
  await rollUpDay(t.db, '2026-03-12');
  const quality = await qualityByModelDay(t.db, { from: day, to: '2026-03-11' });
  expect(quality).toEqual([
    { day, model: 'llama', requests: 4, errors: 0, failureRate: 0, meanE2eMs: 600, meanTtftMs: 80, p50E2eMs: 1000, p95E2eMs: 1000 },
    { day, model: 'qwen', requests: 20, errors: 2, failureRate: 0.1, meanE2eMs: 390, meanTtftMs: 40, p50E2eMs: 250, p95E2eMs: 4000 },
  ]);
  // Rolling up again gives the same figures.
  await rollUpDay(t.db, day);
  expect(await qualityByModelDay(t.db, { from: day, to: day })).toEqual(quality);
});

it('reads a quantile as the bound of the bucket it falls in, never below it', () => {
  const counts = new Array(E2E_BUCKET_BOUNDS_MS.length + 1).fill(0);
  expect(quantileFromBuckets(counts, 0.5)).toBeNull();
  counts[0] = 50;
  counts[3] = 49;
  counts[9] = 1;
  expect(quantileFromBuckets(counts, 0.5)).toBe(250);
  expect(quantileFromBuckets(counts, 0.95)).toBe(2000);
  expect(quantileFromBuckets(counts, 1)).toBe(64000);
});
