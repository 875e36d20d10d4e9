import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocations, gpuSamples } from '../../db/schema';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { makeDeployment, makeNode } from '../../testing/factories';
import { gpuSeries } from './series';
import { bucketSecondsFor, TARGET_BUCKETS } from './windows';

let t: TestDatabase;
let nodeId: string;
const NOW = new Date('2026-07-14T12:00:00Z');
const MIN = 60_000;

beforeAll(async () => {
  t = await createTestDatabase('telemetry');
  nodeId = (await makeNode(t.db, { name: 'h100-a', gpuCount: 2, lastHeartbeatAt: null })).id;
  // Two hours of 15 s samples on GPU 0: utilisation alternates 20/80 within each 30 s bucket, memory and
  // temperature climb, so averages and maxima are easy to tell apart. GPU 1 is idle.
  const rows = [];
  for (let i = 0; i < 480; i++) {
    const at = new Date(NOW.getTime() - (480 - i) * 15_000);
    rows.push({ nodeId, gpuIndex: 0, at, utilizationPct: i % 2 ? 80 : 20, memoryUsedMiB: 10_000 + i, memoryTotalMiB: 81_559, temperatureC: 50 + (i % 2) * 10, powerW: i % 2 ? 400 : 200 });
    rows.push({ nodeId, gpuIndex: 1, at, utilizationPct: 0, memoryUsedMiB: 0, memoryTotalMiB: 81_559, temperatureC: 35, powerW: 60 });
  }
  for (let i = 0; i < rows.length; i += 400) await t.db.insert(gpuSamples).values(rows.slice(i, i + 400));
});
afterAll(async () => t?.drop());

describe('gpuSeries', () => {
  it('downsamples an hour into ~120 buckets: utilisation and power averaged, memory and temperature as maxima', async () => {
    expect(bucketSecondsFor('hour')).toBe(30);
    const s = await gpuSeries(t.db, { nodeId, window: 'hour' }, NOW);
    expect(s.bucketSeconds).toBe(30);
    expect(s.gpus.map((g) => g.index)).toEqual([0, 1]);
    const g0 = s.gpus[0]!;
    expect(g0.points.length).toBeGreaterThanOrEqual(TARGET_BUCKETS);
    expect(g0.points.length).toBeLessThanOrEqual(TARGET_BUCKETS + 1);
    const full = g0.points[10]!;
    expect(full).toMatchObject({ utilizationPct: 50, temperatureC: 60, powerW: 300 });
    expect(full.at % 30_000).toBe(0);
    // Memory is the bucket's maximum: the odd (later) sample of the pair.
    const i = (full.at - (NOW.getTime() - 480 * 15_000)) / 15_000;
    expect(full.memoryUsedMiB).toBe(10_000 + i + 1);
    expect(s.gpus[1]!.points.every((p) => p.utilizationPct === 0)).toBe(true);
  });

  it('a day and a week use wider buckets over the same samples, and one GPU can be asked for alone', async () => {
    const day = await gpuSeries(t.db, { nodeId, window: 'day' }, NOW);
    expect(day.bucketSeconds).toBe(720);
    expect(day.gpus[0]!.points.length).toBe(10); // two hours in 12-minute buckets, the grid aligned to 12:00
    expect(day.gpus[0]!.points[1]!.utilizationPct).toBe(50);
    const week = await gpuSeries(t.db, { nodeId, window: 'week', gpuIndex: 1 }, NOW);
    expect(week.bucketSeconds).toBe(5040);
    expect(week.gpus.map((g) => g.index)).toEqual([1]);
  });

  it('overlays allocations with the holder’s name, and counts their memory per bucket', async () => {
    const { deployment, replicas } = await makeDeployment(t.db, { name: 'llama-70b' }, ['http://127.0.0.1:1']);
    await t.db.insert(allocations).values([
      { nodeId, gpuIndex: 0, holderKind: 'replica', holderId: replicas[0]!.id, memoryBytes: 40 * 2 ** 30, createdAt: new Date(NOW.getTime() - 30 * MIN) },
      // Released before the window: not shown.
      { nodeId, gpuIndex: 0, holderKind: 'replica', holderId: replicas[0]!.id, memoryBytes: 1, createdAt: new Date(NOW.getTime() - 200 * MIN), releasedAt: new Date(NOW.getTime() - 90 * MIN) },
    ]);
    const s = await gpuSeries(t.db, { nodeId, window: 'hour' }, NOW);
    expect(s.allocations).toEqual([
      expect.objectContaining({ gpuIndex: 0, holderName: 'llama-70b', deploymentId: deployment.id, from: NOW.getTime() - 30 * MIN, to: null }),
    ]);
    const g0 = s.gpus[0]!.points;
    expect(g0[0]!.memoryAllocatedMiB).toBe(0);
    expect(g0[g0.length - 1]!.memoryAllocatedMiB).toBe(40 * 1024);
  });

  it('refuses an unknown node and malformed input with clear errors', async () => {
    await expect(gpuSeries(t.db, { nodeId: '00000000-0000-4000-8000-000000000000', window: 'hour' })).rejects.toThrow('No GPU node');
    await expect(gpuSeries(t.db, { nodeId: 'x', window: 'hour' })).rejects.toThrow();
    await expect(gpuSeries(t.db, { nodeId, window: 'year' as 'hour' })).rejects.toThrow();
  });
});
