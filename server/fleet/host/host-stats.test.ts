import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import { recordHeartbeat } from '../nodes/heartbeat';
import { registerNode } from '../nodes/register';
import { listFleetNodes } from '../view';
import { hostStatsSchema, readHostStats } from './host-stats';

let t: TestDatabase;
let dir: string;
beforeAll(async () => {
  t = await createTestDatabase('hoststats');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'host-stats-'));
});
afterAll(async () => {
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('readHostStats', () => {
  it("reads this machine's CPU, memory and the data directory's disk, in the shape the heartbeat accepts", async () => {
    const s = await readHostStats(dir);
    expect(hostStatsSchema.parse(s)).toEqual(s);
    expect(s.cpuCores).toBe(os.availableParallelism());
    expect(s.memoryTotalBytes).toBe(os.totalmem());
    expect(s.memoryAvailableBytes).toBeGreaterThan(0);
    expect(s.memoryAvailableBytes).toBeLessThanOrEqual(s.memoryTotalBytes);
    const fsStat = fs.statfsSync(dir);
    expect(s.diskTotalBytes).toBe(fsStat.blocks * fsStat.bsize);
    expect(s.diskFreeBytes).toBeGreaterThan(0);
    expect(s.diskFreeBytes!).toBeLessThanOrEqual(s.diskTotalBytes!);
    expect(s.diskPath).toBe(dir);
  });
  it('reports no disk for a data directory that does not exist yet, rather than failing the heartbeat', async () => {
    const s = await readHostStats(path.join(dir, 'not-yet'));
    expect([s.diskTotalBytes, s.diskFreeBytes]).toEqual([null, null]);
  });
  it('refuses figures that cannot be (the heartbeat answers 400 for them)', () => {
    const good = { cpuCores: 4, cpuModel: null, load1: 0.5, memoryTotalBytes: 8, memoryAvailableBytes: 4, diskPath: '/d', diskTotalBytes: null, diskFreeBytes: null };
    expect(hostStatsSchema.safeParse(good).success).toBe(true);
    for (const bad of [{ cpuCores: 0 }, { load1: -1 }, { memoryTotalBytes: -5 }, { cpuCores: 2.5 }]) expect(hostStatsSchema.safeParse({ ...good, ...bad }).success, JSON.stringify(bad)).toBe(false);
  });
});

describe('a CPU-only node on the GPU page', () => {
  it("shows the host's figures from the latest heartbeat that carried them; one without keeps them", async () => {
    await registerNode(t.db, { name: 'cpu-only', labels: {}, gpus: [], topology: null });
    expect((await listFleetNodes(t.db)).find((n) => n.name === 'cpu-only')).toMatchObject({ gpus: [], host: null });
    const host = await readHostStats(dir);
    const at = new Date();
    await recordHeartbeat(t.db, 'cpu-only', [], at, host);
    const node = (await listFleetNodes(t.db)).find((n) => n.name === 'cpu-only')!;
    expect(node.host).toEqual(host);
    expect(node.hostAt?.getTime()).toBe(at.getTime());
    // An older agent's heartbeat (GPUs only) keeps the node alive without erasing what is known.
    await recordHeartbeat(t.db, 'cpu-only', [], new Date(at.getTime() + 5000));
    const after = (await listFleetNodes(t.db)).find((n) => n.name === 'cpu-only')!;
    expect(after.host).toEqual(host);
    expect(after.lastHeartbeatAt!.getTime()).toBe(at.getTime() + 5000);
  });
});
