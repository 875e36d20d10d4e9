import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocations, gpuNodes, gpuSamples, gpus } from '../db/schema';
import { createTestDatabase, type TestDatabase } from '../testing/database';
import { makeDeployment } from '../testing/factories';
import { fleetSamples, listFleetNodes } from './view';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('fleetview');
});
afterAll(async () => t?.drop());

describe('fleet view', () => {
  it('lists each GPU with its latest sample and who holds it now, a gone holder by its id', async () => {
    const [node] = await t.db.insert(gpuNodes).values({ name: 'a100-a' }).returning();
    const nodeId = node!.id;
    await t.db.insert(gpus).values([0, 1].map((index) => ({ nodeId, index, name: 'A100', memoryTotalMiB: 81_920 })));
    const now = Date.now();
    await t.db.insert(gpuSamples).values([
      { nodeId, gpuIndex: 0, at: new Date(now - 60_000), utilizationPct: 10, memoryUsedMiB: 100, memoryTotalMiB: 81_920, temperatureC: 40, powerW: 100 },
      { nodeId, gpuIndex: 0, at: new Date(now - 30_000), utilizationPct: 90, memoryUsedMiB: 200, memoryTotalMiB: 81_920, temperatureC: 50, powerW: 300 },
    ]);
    const { deployment, replicas } = await makeDeployment(t.db, { name: 'llama-70b' }, ['http://127.0.0.1:1']);
    const goneHolder = '6f0c1a52-0000-4000-8000-000000000001';
    await t.db.insert(allocations).values([
      { nodeId, gpuIndex: 0, holderKind: 'replica', holderId: replicas[0]!.id, memoryBytes: 40 * 2 ** 30 },
      { nodeId, gpuIndex: 1, holderKind: 'replica', holderId: goneHolder, memoryBytes: 2 ** 30 },
      { nodeId, gpuIndex: 1, holderKind: 'replica', holderId: replicas[0]!.id, memoryBytes: 1, releasedAt: new Date(now - 1000) },
    ]);

    const [listed] = await listFleetNodes(t.db);
    expect(listed!.name).toBe('a100-a');
    const [g0, g1] = listed!.gpus;
    expect(g0!.sample).toMatchObject({ utilizationPct: 90, memoryUsedMiB: 200, temperatureC: 50, powerW: 300 });
    expect(g0!.allocations).toEqual([{ holderKind: 'replica', holderId: replicas[0]!.id, holderName: 'llama-70b', deploymentId: deployment.id, memoryBytes: 40 * 2 ** 30 }]);
    expect(g1!.sample).toBeNull();
    expect(g1!.allocations).toEqual([{ holderKind: 'replica', holderId: goneHolder, holderName: '6f0c1a52', deploymentId: null, memoryBytes: 2 ** 30 }]);

    const samples = await fleetSamples(t.db, { nodeId, since: new Date(now - 3_600_000).toISOString(), gpuIndex: 0 });
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.every((s) => s.gpuIndex === 0 && s.memoryTotalMiB === 81_920)).toBe(true);
    expect(Math.max(...samples.map((s) => s.memoryUsedMiB ?? 0))).toBe(200);
  });
});
