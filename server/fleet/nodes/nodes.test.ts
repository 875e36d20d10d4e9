import { asc, eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuNodes, gpus, gpuSamples, joinTokens } from '../../db/schema';
import { createTestDatabase, type TestDatabase } from '../../testing/database';
import type { GpuInfo } from '../../gpu/types';
import { recordHeartbeat, UnknownNodeError } from './heartbeat';
import { authenticateNode, createJoinToken, JoinError, redeemJoinToken } from './join-tokens';
import { registerNode } from './register';
import { sweepNodes } from './sweep';
import { runMaintenance } from '../../../workers/maintenance';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('nodes');
});
afterAll(async () => {
  await t.drop();
});

const gpu = (index: number, over: Partial<GpuInfo> = {}): GpuInfo => ({
  index,
  name: 'NVIDIA A100-SXM4-80GB',
  uuid: `GPU-${index}`,
  memoryTotalMiB: 81920,
  memoryUsedMiB: 0,
  utilizationPct: 0,
  temperatureC: 30,
  powerW: 60,
  ...over,
});
const topology = { devices: ['GPU0', 'GPU1'], links: [['X', 'NV12'], ['NV12', 'X']], numaNode: [0, 1] };

describe('registerNode', () => {
  it('upserts the node and its GPUs, dropping GPUs the host no longer has', async () => {
    const first = await registerNode(t.db, { name: 'n1', labels: { zone: 'a' }, gpus: [gpu(0), gpu(1)], topology, driverVersion: '550.54', cudaVersion: '12.4' });
    expect(first).toMatchObject({ name: 'n1', status: 'healthy', driverVersion: '550.54', cudaVersion: '12.4', labels: { zone: 'a' } });
    const rows = await t.db.select().from(gpus).where(eq(gpus.nodeId, first.id)).orderBy(asc(gpus.index));
    expect(rows.map((g) => [g.index, g.uuid, g.memoryTotalMiB, g.numaNode])).toEqual([
      [0, 'GPU-0', 81920, 0],
      [1, 'GPU-1', 81920, 1],
    ]);

    const again = await registerNode(t.db, { name: 'n1', labels: { zone: 'b' }, gpus: [gpu(0, { name: null, uuid: 'GPU-new' })], topology: null });
    expect(again.id).toBe(first.id);
    expect(again.labels).toEqual({ zone: 'b' });
    const after = await t.db.select().from(gpus).where(eq(gpus.nodeId, first.id));
    expect(after.map((g) => [g.index, g.uuid, g.name])).toEqual([[0, 'GPU-new', 'GPU 0']]);
    expect(await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, 'n1'))).toHaveLength(1);
  });

  it('registers a CPU host with zero GPUs', async () => {
    const node = await registerNode(t.db, { name: 'cpu-only', labels: {}, gpus: [], topology: null });
    expect(await t.db.select().from(gpus).where(eq(gpus.nodeId, node.id))).toEqual([]);
  });
});

describe('recordHeartbeat', () => {
  it('keeps one sample per GPU per 15 s bucket, with the maximum of each reading', async () => {
    const node = await registerNode(t.db, { name: 'hb', labels: {}, gpus: [gpu(0), gpu(1)], topology });
    const bucket = new Date(Math.ceil(Date.now() / 15_000) * 15_000);
    await recordHeartbeat(t.db, 'hb', [gpu(0, { utilizationPct: 40, memoryUsedMiB: 1000, temperatureC: 50 }), gpu(1, { utilizationPct: 5 })], new Date(bucket.getTime() + 1_000));
    await recordHeartbeat(t.db, 'hb', [gpu(0, { utilizationPct: 90, memoryUsedMiB: 500, temperatureC: null, powerW: 300 }), gpu(1, { utilizationPct: 1 })], new Date(bucket.getTime() + 9_000));
    await recordHeartbeat(t.db, 'hb', [gpu(0, { utilizationPct: 10 })], new Date(bucket.getTime() + 16_000));
    const samples = await t.db.select().from(gpuSamples).where(eq(gpuSamples.nodeId, node.id)).orderBy(asc(gpuSamples.at), asc(gpuSamples.gpuIndex));
    expect(samples.map((s) => [s.at.getTime() - bucket.getTime(), s.gpuIndex, s.utilizationPct, s.memoryUsedMiB, s.temperatureC, s.powerW])).toEqual([
      [0, 0, 90, 1000, 50, 300],
      [0, 1, 5, 0, 30, 60],
      [15_000, 0, 10, 0, 30, 60],
    ]);
    const [row] = await t.db.select().from(gpuNodes).where(eq(gpuNodes.id, node.id));
    expect(row!.lastHeartbeatAt!.getTime()).toBe(bucket.getTime() + 16_000);
  });

  it('refuses a node that never registered', async () => {
    await expect(recordHeartbeat(t.db, 'nobody', [gpu(0)])).rejects.toBeInstanceOf(UnknownNodeError);
  });
});

describe('sweepNodes', () => {
  it('marks a silent node unhealthy, leaves a talking one alone, and a heartbeat brings it back', async () => {
    await registerNode(t.db, { name: 'silent', labels: {}, gpus: [], topology: null });
    await registerNode(t.db, { name: 'talking', labels: {}, gpus: [], topology: null });
    const now = new Date(Date.now() + 60_000);
    await recordHeartbeat(t.db, 'talking', [], new Date(now.getTime() - 1_000));
    const marked = await sweepNodes(t.db, { silentAfterMs: 30_000, now });
    expect(marked).toContain('silent');
    expect(marked).not.toContain('talking');
    const status = async (name: string) => (await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, name)))[0]!.status;
    expect(await status('silent')).toBe('unhealthy');
    expect(await status('talking')).toBe('healthy');
    expect(await sweepNodes(t.db, { silentAfterMs: 30_000, now })).not.toContain('silent');
    await recordHeartbeat(t.db, 'silent', []);
    expect(await status('silent')).toBe('healthy');
  });

  it('runs as the maintenance queue task "nodes"', async () => {
    await registerNode(t.db, { name: 'swept-by-job', labels: {}, gpus: [], topology: null });
    await t.db.update(gpuNodes).set({ lastHeartbeatAt: new Date(Date.now() - 120_000) }).where(eq(gpuNodes.name, 'swept-by-job'));
    const result = await runMaintenance(t.db, { task: 'nodes' });
    expect(result.unhealthy).toContain('swept-by-job');
  });
});

describe('join tokens', () => {
  const reg = (name: string) => ({ name, labels: { site: 'remote' }, gpus: [gpu(0)], topology: null });

  it('joins once: the token is spent, the node gets a credential, stored only as a hash', async () => {
    const { token, expiresAt } = await createJoinToken(t.db, { ttlHours: 2 });
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now() + 7_100_000);
    const { node, credential } = await redeemJoinToken(t.db, token, reg('remote-1'));
    expect(node.name).toBe('remote-1');
    expect(await authenticateNode(t.db, credential)).toEqual({ id: node.id, name: 'remote-1' });
    await expect(redeemJoinToken(t.db, token, reg('remote-2'))).rejects.toThrow(/already used/);
    expect(await t.db.select().from(gpuNodes).where(eq(gpuNodes.name, 'remote-2'))).toEqual([]);
    const stored = await t.db.select().from(joinTokens);
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(JSON.stringify(stored)).not.toContain(credential);
    // A credential is not a join token, and a join token does not authenticate.
    await expect(redeemJoinToken(t.db, credential, reg('remote-3'))).rejects.toBeInstanceOf(JoinError);
    expect(await authenticateNode(t.db, token)).toBeNull();
  });

  it('refuses an expired token, and rejoining revokes the old credential', async () => {
    const expired = await createJoinToken(t.db, { ttlHours: 1 });
    await t.db.update(joinTokens).set({ expiresAt: new Date(Date.now() - 1_000) }).where(isNull(joinTokens.usedByNodeId));
    await expect(redeemJoinToken(t.db, expired.token, reg('late'))).rejects.toThrow(/expired/);

    const a = await redeemJoinToken(t.db, (await createJoinToken(t.db)).token, reg('rejoin'));
    const b = await redeemJoinToken(t.db, (await createJoinToken(t.db)).token, reg('rejoin'));
    expect(b.node.id).toBe(a.node.id);
    expect(await authenticateNode(t.db, a.credential)).toBeNull();
    expect(await authenticateNode(t.db, b.credential)).toMatchObject({ name: 'rejoin' });
    await expect(createJoinToken(t.db, { ttlHours: 0 })).rejects.toBeInstanceOf(JoinError);
  });
});
