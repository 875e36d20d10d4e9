import { describe, expect, test } from 'vitest';
import type { PlannerNode } from '../types';
import { exhaustivePlan, scorePlan as scoreOf } from './exhaustive';
import { FleetIndex, placeAndCommit, type PlacementPlan, type PlacementRequest } from './index';
import { compareScores } from './score';
import { GiB, MODEL_SHAPES, modelClaim, randomCluster } from './testing/fleet';
import { seededRandom, type SeededRandom } from './testing/prng';

const SEEDS = 250;
const REQUESTS_PER_SEED = 12;

function randomRequest(rng: SeededRandom, utilization: number) {
  const shape = rng.pick(MODEL_SHAPES);
  // Scale the shape so that small clusters see every outcome: one GPU, several, several nodes, nothing.
  const scale = rng.pick([0.1, 0.3, 0.6, 1, 1.5]);
  const model = { ...shape, weightsBytes: shape.weightsBytes * scale, fixedBytes: shape.fixedBytes * scale };
  const request: PlacementRequest = {
    engine: 'vllm',
    labels: rng.chance(0.3) ? { zone: rng.pick(['a', 'b']) } : {},
    tp: rng.chance(0.3) ? rng.pick([1, 2, 3, 4, 8]) : undefined,
    pp: rng.chance(0.1) ? 2 : undefined,
    claimPerGpu: modelClaim(model),
    gpuMemoryUtilization: utilization,
    policy: rng.pick(['binpack', 'spread'] as const),
    maxPp: 4,
  };
  return { request, heads: model.heads };
}

/** Applies a plan's claim to the node objects: the brute force and the ledger read these, not the index. */
function applyToNodes(nodes: PlannerNode[], plan: PlacementPlan) {
  for (const p of plan.placements) {
    const node = nodes.find((n) => n.name === p.node)!;
    for (const index of p.gpus) node.gpus.find((g) => g.index === index)!.allocatedBytes += plan.claimBytesPerGpu!;
  }
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

describe('properties over seeded random clusters and request sequences', () => {
  test(`${SEEDS} seeds × ${REQUESTS_PER_SEED} requests: no over-commit, no bad node, TP divides the heads, and the brute-force optimum`, () => {
    let placed = 0, multiNode = 0, rejected = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const rng = seededRandom(seed);
      const nodes = randomCluster(rng, { nodes: [1, 4], gpus: [1, 8] });
      const utilization = rng.pick([0.8, 0.9, 0.95]);
      const initial = new Map(nodes.flatMap((n) => n.gpus.map((g) => [`${n.name}/${g.index}`, g.allocatedBytes] as const)));
      const index = new FleetIndex(structuredClone(nodes));
      for (let r = 0; r < REQUESTS_PER_SEED; r++) {
        const { request, heads } = randomRequest(rng, utilization);
        const where = `seed ${seed}, request ${r}`;
        const reference = exhaustivePlan(nodes, request);
        const plan = placeAndCommit(index, request);

        expect(plan.feasible, where).toBe(reference.plan.feasible);
        if (!plan.feasible) {
          rejected++;
          expect(plan.reasons.length, where).toBeGreaterThanOrEqual(nodes.length);
          continue;
        }
        expect([plan.tp, plan.pp], where).toEqual([reference.plan.tp, reference.plan.pp]);
        const score = scoreOf(nodes, request, plan);
        expect(score.topo, where).toBe(reference.score!.topo);
        expect(close(score.first, reference.score!.first) && close(score.second, reference.score!.second), `${where}: score`).toBe(true);
        expect(compareScores(score, reference.score!) < 1, where).toBe(true);

        const tp = plan.tp!, pp = plan.pp!;
        expect(heads % tp, where).toBe(0);
        if (request.tp) expect(tp, where).toBe(request.tp);
        expect(plan.claimBytesPerGpu, where).toBe(request.claimPerGpu(tp, pp));
        expect(plan.placements.length, where).toBe(pp);
        expect(new Set(plan.placements.map((p) => p.node)).size, where).toBe(pp);
        for (const p of plan.placements) {
          const node = nodes.find((n) => n.name === p.node)!;
          expect(node.healthy, where).toBe(true);
          expect(node.engines, where).toContain('vllm');
          for (const [k, v] of Object.entries(request.labels ?? {})) expect(node.labels[k], where).toBe(v);
          expect(new Set(p.gpus).size, where).toBe(tp);
          for (const g of p.gpus) expect(node.gpus.find((x) => x.index === g)?.exclusive, where).not.toBe(true);
        }
        applyToNodes(nodes, plan);
        placed++;
        if (pp > 1) multiNode++;
      }
      // The ledger: whatever was there before plus every claim placed stays within utilisation × total.
      for (const node of nodes) {
        for (const gpu of node.gpus) {
          const added = gpu.allocatedBytes - initial.get(`${node.name}/${gpu.index}`)!;
          if (added > 0) expect(gpu.allocatedBytes, `seed ${seed} ${node.name} GPU ${gpu.index}`).toBeLessThanOrEqual(utilization * gpu.memoryTotalBytes + 1);
        }
      }
    }
    // The generator must exercise every branch, or the properties above prove little.
    expect(placed).toBeGreaterThan(SEEDS * 3);
    expect(multiNode).toBeGreaterThan(20);
    expect(rejected).toBeGreaterThan(SEEDS);
  });

  test('a deliberately wrong answer is caught by the brute-force comparison', () => {
    const rng = seededRandom(7);
    const nodes = randomCluster(rng, { nodes: [3, 3], gpus: [8, 8] }).map((n) => ({ ...n, healthy: true, engines: ['vllm'], gpus: n.gpus.map((g) => ({ ...g, exclusive: false })) }));
    const request: PlacementRequest = { engine: 'vllm', claimPerGpu: () => 2 * GiB, tp: 2, gpuMemoryUtilization: 0.9, policy: 'binpack' };
    const reference = exhaustivePlan(nodes, request);
    const worst = { ...reference.plan, placements: [{ node: nodes[0].name, gpus: [0, 7] }] };
    expect(compareScores(scoreOf(nodes, request, worst), reference.score!)).toBeGreaterThan(0);
  });
});
