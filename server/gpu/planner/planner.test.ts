import { describe, expect, test } from 'vitest';
import type { PlannerNode, Topology } from '../types';
import { FleetIndex, placeAndCommit, planPlacement, PlannerInputError, type PlacementRequest } from './index';
import { GiB, modelClaim, simulatedNode } from './testing/fleet';

const fixed = (bytes: number, heads = 32) => modelClaim({ weightsBytes: bytes, fixedBytes: 0, heads, layers: 80 });
const request = (extra: Partial<PlacementRequest> = {}): PlacementRequest => ({
  engine: 'vllm',
  claimPerGpu: fixed(10 * GiB),
  gpuMemoryUtilization: 0.9,
  policy: 'binpack',
  ...extra,
});
const numaOf = (node: PlannerNode, gpus: number[]) => new Set(gpus.map((g) => node.topology!.numaNode[g]));

describe('one GPU first', () => {
  test('a model that fits one GPU gets tp 1, on the fullest GPU under binpack and the emptiest node under spread', () => {
    const a = simulatedNode('a', 'a100');
    const b = simulatedNode('b', 'a100');
    a.gpus[5].allocatedBytes = 20 * GiB;
    b.gpus[2].allocatedBytes = 5 * GiB;
    const binpack = planPlacement([a, b], request());
    expect(binpack).toMatchObject({ feasible: true, tp: 1, pp: 1, placements: [{ node: 'a', gpus: [5] }], reasons: [] });
    expect(binpack.claimBytesPerGpu).toBe(10 * GiB);
    const spread = planPlacement([a, b], request({ policy: 'spread' }));
    expect(spread.placements[0].node).toBe('b');
    expect(spread.placements[0].gpus).not.toEqual([2]);
  });

  test('the smallest tensor-parallel size that fits, when none is given', () => {
    const node = simulatedNode('a', 'a100'); // 36 GiB usable per GPU at 0.9
    const plan = planPlacement([node], request({ claimPerGpu: fixed(100 * GiB, 40) }));
    // tp 1 needs 100, tp 2 needs 50, tp 3 does not divide 40 heads, tp 4 needs 25: the answer.
    expect(plan).toMatchObject({ feasible: true, tp: 4, pp: 1 });
    expect(plan.claimBytesPerGpu).toBe(25 * GiB);
  });
});

describe('several GPUs on one node: topology', () => {
  test('A100 NV12: a 4-GPU set stays within one NUMA node', () => {
    const node = simulatedNode('a', 'a100');
    const plan = planPlacement([node], request({ tp: 4 }));
    expect(plan.placements[0].gpus).toHaveLength(4);
    expect(numaOf(node, plan.placements[0].gpus).size).toBe(1);
    // With GPU 0 taken, NUMA node 0 has three left: the set moves to 4-7 rather than straddling.
    node.gpus[0].allocatedBytes = 40 * GiB;
    expect(planPlacement([node], request({ tp: 4 })).placements[0].gpus).toEqual([4, 5, 6, 7]);
  });

  test('an NVLinked node is preferred over a PCIe one for tp 2, even when binpack would pick the PCIe node', () => {
    const pcie = simulatedNode('pcie', 'rtx4090');
    pcie.gpus[3].allocatedBytes = 5 * GiB;
    const nvlink = simulatedNode('nvlink', 'a100');
    const plan = planPlacement([pcie, nvlink], request({ tp: 2, labels: {} }));
    expect(plan.placements[0].node).toBe('nvlink');
  });

  test('RTX 4090 (all SYS): a pair on one NUMA node, not across the sockets', () => {
    const node = simulatedNode('a', 'rtx4090');
    for (const g of [0, 1, 2, 4]) node.gpus[g].allocatedBytes = 20 * GiB; // leaves GPU 3 on NUMA 0, 5-7 on NUMA 1
    const plan = planPlacement([node], request({ tp: 2, claimPerGpu: fixed(8 * GiB) }));
    expect(numaOf(node, plan.placements[0].gpus)).toEqual(new Set([1]));
  });

  test('PIX pairs are preferred over SYS pairs', () => {
    // Two PCIe switches per socket: 0-1 and 2-3 share a switch (PIX), everything else crosses the sockets.
    const link = (a: number, b: number) => (a === b ? 'X' : Math.floor(a / 2) === Math.floor(b / 2) ? 'PIX' : 'SYS');
    const topology: Topology = {
      devices: ['GPU0', 'GPU1', 'GPU2', 'GPU3'],
      links: [0, 1, 2, 3].map((a) => [0, 1, 2, 3].map((b) => link(a, b))),
      numaNode: [0, 0, 1, 1],
    };
    const node: PlannerNode = {
      name: 'pcie',
      healthy: true,
      labels: {},
      engines: ['vllm'],
      gpus: [0, 1, 2, 3].map((index) => ({ index, memoryTotalBytes: 24 * GiB, allocatedBytes: index === 1 ? 2 * GiB : 0 })),
      topology,
    };
    // Binpack alone would take GPU 1 (the fullest) with any other; the PIX pair 0-1 or 2-3 must win.
    const plan = planPlacement([node], request({ tp: 2, claimPerGpu: fixed(16 * GiB) }));
    expect([[0, 1], [2, 3]]).toContainEqual(plan.placements[0].gpus);
  });
});

describe('several nodes: pipeline parallel', () => {
  test('a model too big for one node spans two, tp GPUs on each', () => {
    const nodes = [simulatedNode('a', 'rtx4090'), simulatedNode('b', 'rtx4090'), simulatedNode('c', 'rtx4090')];
    // 21.6 GiB usable per 4090; 70B-like at 300 GiB: tp 8 needs 37.5 per GPU, tp 8 pp 2 needs 18.75.
    const plan = planPlacement(nodes, request({ claimPerGpu: fixed(300 * GiB, 64) }));
    expect(plan).toMatchObject({ feasible: true, tp: 8, pp: 2 });
    expect(plan.placements).toHaveLength(2);
    expect(new Set(plan.placements.map((p) => p.node)).size).toBe(2);
    for (const p of plan.placements) expect(p.gpus).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test('a fixed pp is honoured, and the claims accumulate on a FleetIndex', () => {
    const index = new FleetIndex([simulatedNode('a', 'a100'), simulatedNode('b', 'a100')]);
    const first = placeAndCommit(index, request({ tp: 8, pp: 2, claimPerGpu: fixed(8 * 2 * 30 * GiB) }));
    expect(first).toMatchObject({ feasible: true, tp: 8, pp: 2 });
    const second = placeAndCommit(index, request({ tp: 1, pp: 1, claimPerGpu: fixed(7 * GiB) }));
    expect(second.feasible).toBe(false); // 36 - 30 = 6 GiB left everywhere
    index.release(first);
    expect(placeAndCommit(index, request({ tp: 1, claimPerGpu: fixed(7 * GiB) })).feasible).toBe(true);
  });
});

test('an index answers requests at different utilisations, each against its own headroom', () => {
  const index = new FleetIndex([simulatedNode('a', 'a100')]);
  expect(placeAndCommit(index, request({ tp: 8, pp: 1, claimPerGpu: fixed(8 * 15 * GiB) })).feasible).toBe(true);
  // 15 GiB taken of 40: at 0.5 (20 GiB) 5 GiB are left, at 0.9 21 GiB.
  expect(placeAndCommit(index, request({ tp: 1, pp: 1, gpuMemoryUtilization: 0.5, claimPerGpu: fixed(6 * GiB) })).feasible).toBe(false);
  expect(placeAndCommit(index, request({ tp: 1, pp: 1, gpuMemoryUtilization: 0.9, claimPerGpu: fixed(20 * GiB) })).placements).toEqual([{ node: 'a', gpus: [0] }]);
  // Back at 0.5, GPU 0 (35 GiB taken) is out; NUMA node 1 holds a 4-GPU set of 5 GiB each.
  expect(placeAndCommit(index, request({ tp: 4, pp: 1, gpuMemoryUtilization: 0.5, claimPerGpu: fixed(4 * 5 * GiB) })).placements[0].gpus).toEqual([4, 5, 6, 7]);
  expect(placeAndCommit(index, request({ tp: 4, pp: 1, gpuMemoryUtilization: 0.5, claimPerGpu: fixed(4 * 5 * GiB) })).feasible).toBe(false);
});

describe('reasons in plain words when nothing fits', () => {
  test('one line per node: health, labels, engine, TP, memory', () => {
    const nodes: PlannerNode[] = [
      simulatedNode('gpu-node-3', 'a100', { healthy: false }),
      simulatedNode('gpu-node-4', 'a100', { labels: { zone: 'a' } }),
      simulatedNode('gpu-node-5', 'a100', { engines: ['llamacpp'], labels: { zone: 'b' } }),
      simulatedNode('gpu-node-6', 'a100', { labels: { zone: 'b' } }),
      simulatedNode('gpu-node-7', 'a100', { labels: {} }),
    ];
    nodes[3].gpus.forEach((g) => (g.allocatedBytes = 30 * GiB));
    nodes[3].gpus[3].allocatedBytes = 15 * GiB;
    const plan = planPlacement(nodes, request({ tp: 2, labels: { zone: 'b' }, claimPerGpu: fixed(2 * 19.2 * GiB) }));
    expect(plan.feasible).toBe(false);
    expect(plan.reasons).toEqual([
      'gpu-node-3: unhealthy (no recent heartbeat)',
      'gpu-node-4: label zone=b required, node has zone=a',
      'gpu-node-5: engine vllm not available (node runs llamacpp)',
      'gpu-node-6: needs 19.2 GiB per GPU on 2 GPUs; largest free: 21.0 GiB (GPU 3), 6.0 GiB (GPU 0)',
      'gpu-node-7: label zone=b required, node has no zone label',
    ]);
    const badTp = planPlacement([nodes[3]], request({ tp: 3, labels: { zone: 'b' } }));
    expect(badTp.reasons).toEqual(['gpu-node-6: tensor parallel 3 does not divide 32 attention heads']);
  });

  test('without a fixed TP, a node is described at its largest split and the cross-node attempt gets a line', () => {
    const nodes = [simulatedNode('x', 'rtx4090'), simulatedNode('y', 'rtx4090')];
    const plan = planPlacement(nodes, request({ claimPerGpu: fixed(1000 * GiB, 64) }));
    expect(plan.feasible).toBe(false);
    expect(plan.reasons[0]).toBe('x: needs 125.0 GiB per GPU on 8 GPUs; largest free: 21.6 GiB (GPUs 0, 1, 2, 3, 4, 5, 6, 7)');
    expect(plan.reasons[2]).toBe('across nodes: pipeline parallel 2 × tensor parallel 8 needs 62.5 GiB per GPU on 8 GPUs of each node; 0 of the 2 nodes needed can hold that');
  });

  test('a node with too few GPUs for the TP, a fleet with no nodes', () => {
    const small = simulatedNode('small', 'a100');
    small.gpus = small.gpus.slice(0, 4);
    expect(planPlacement([small], request({ tp: 8 })).reasons).toEqual(['small: tensor parallel 8 needs 8 GPUs, node has 4']);
    expect(planPlacement([], request()).reasons).toEqual(['no GPU nodes are registered']);
  });
});

test('bad input is a PlannerInputError that names the problem', () => {
  const nodes = [simulatedNode('a', 'a100')];
  expect(() => planPlacement(nodes, request({ gpuMemoryUtilization: 1.5 }))).toThrow(PlannerInputError);
  expect(() => planPlacement(nodes, request({ tp: 0 }))).toThrow(/tensor parallel size must be a positive integer, got 0/);
  expect(() => planPlacement(nodes, request({ policy: 'random' as 'spread' }))).toThrow(/policy must be binpack or spread/);
  expect(() => planPlacement([nodes[0], nodes[0]], request())).toThrow(/node name a appears twice/);
  expect(() => planPlacement(nodes, request({ claimPerGpu: () => Number.NaN }))).toThrow(/must be a positive number of bytes, got NaN/);
});
