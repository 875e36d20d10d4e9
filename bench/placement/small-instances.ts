import { exhaustivePlan, scorePlan } from '../../server/gpu/planner/exhaustive';
import { FleetIndex, placeAndCommit, type PlacementPlan } from '../../server/gpu/planner';
import { seededRandom } from '../../server/gpu/planner/testing/prng';
import type { PlannerNode } from '../../server/gpu/types';
import { mixedRequest, simulatedFleet } from './workload';

function applyToNodes(nodes: PlannerNode[], plan: PlacementPlan) {
  for (const p of plan.placements) {
    const node = nodes.find((n) => n.name === p.node)!;
    for (const index of p.gpus) node.gpus.find((g) => g.index === index)!.allocatedBytes += plan.claimBytesPerGpu!;
  }
}

const claimed = (plan: PlacementPlan) => (plan.feasible ? plan.claimBytesPerGpu! * plan.placements.reduce((n, p) => n + p.gpus.length, 0) : 0);

/**
 * Small instances (2-3 nodes, 20 requests) placed twice: by the planner and by the exhaustive search at
 * every step (every GPU subset of every node, every combination of nodes). Reports how often the planner's
 * decision scores as well as the exhaustive one on the same state, and the gap in memory placed over the sequence.
 */
export function compareWithExhaustive(seeds: number, requests = 20) {
  let decisions = 0, optimalDecisions = 0;
  const gaps: number[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const rng = seededRandom(10_000 + seed);
    const policy = rng.chance(0.5) ? 'binpack' : 'spread';
    const fleet = simulatedFleet(rng, rng.int(2, 3));
    const plannerNodes = structuredClone(fleet), exhaustiveNodes = structuredClone(fleet);
    const index = new FleetIndex(structuredClone(fleet));
    let plannerBytes = 0, exhaustiveBytes = 0;
    for (let r = 0; r < requests; r++) {
      const request = { ...mixedRequest(rng, policy), explain: false };
      // The decision on the planner's own state, against the exhaustive optimum on that same state.
      const onSameState = exhaustivePlan(plannerNodes, request);
      const plan = placeAndCommit(index, request);
      decisions++;
      if (plan.feasible === onSameState.plan.feasible && claimed(plan) === claimed(onSameState.plan)) {
        if (!plan.feasible || sameScore(scorePlan(plannerNodes, request, plan), onSameState.score!)) optimalDecisions++;
      }
      applyToNodes(plannerNodes, plan);
      plannerBytes += claimed(plan);
      // The exhaustive search run on its own, as a planner, over the whole sequence.
      const alone = exhaustivePlan(exhaustiveNodes, request).plan;
      applyToNodes(exhaustiveNodes, alone);
      exhaustiveBytes += claimed(alone);
    }
    gaps.push(exhaustiveBytes === 0 ? 0 : (exhaustiveBytes - plannerBytes) / exhaustiveBytes);
  }
  gaps.sort((a, b) => a - b);
  return {
    seeds,
    requestsPerSeed: requests,
    decisionsMatchingExhaustive: optimalDecisions / decisions,
    placedBytesGapMean: gaps.reduce((s, g) => s + g, 0) / gaps.length,
    placedBytesGapWorst: gaps[gaps.length - 1],
  };
}

const sameScore = (a: { topo: number; first: number; second: number }, b: typeof a) =>
  a.topo === b.topo && Math.abs(a.first - b.first) < 1 && Math.abs(a.second - b.second) < 1;
