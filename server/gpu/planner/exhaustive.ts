import { nodeFilterReason } from './node-filter';
import { addScores, compareScores, policyScore, type Score } from './score';
import { splitsToTry, validateRequest } from './node-search';
import { linkMatrix, subsetCost } from './topology-table';
import type { PlacementPlan, PlacementRequest, PlannerNode } from './types';

/**
 * The reference the planner is checked against: the same splits in the same order, but every subset of
 * every node's GPUs and every combination of nodes, from the PlannerNode objects directly (no index, no
 * subset tables, no tiers). Exponential: for tests and the benchmark's small instances only.
 */
export function exhaustivePlan(nodes: PlannerNode[], request: PlacementRequest): { plan: PlacementPlan; score: Score | null } {
  validateRequest(request);
  const eligible = nodes.filter((node) => nodeFilterReason(node, request) === null);
  const maxGpus = Math.max(0, ...eligible.map((node) => node.gpus.length));
  for (const { tp, pp } of splitsToTry(request, maxGpus, eligible.length)) {
    if (pp > eligible.length) continue;
    const claim = request.claimPerGpu(tp, pp);
    if (typeof claim !== 'number') continue;
    const perNode = eligible.map((node) => bestSubset(node, tp, claim, request));
    let best: { score: Score; nodes: number[] } | null = null;
    for (const combo of combinations(eligible.length, pp)) {
      if (combo.some((i) => !perNode[i])) continue;
      const score = combo.map((i) => perNode[i]!.score).reduce(addScores);
      if (!best || compareScores(score, best.score) < 0) best = { score, nodes: combo };
    }
    if (best) {
      const placements = best.nodes.map((i) => ({ node: eligible[i].name, gpus: perNode[i]!.gpus }));
      return { plan: { feasible: true, tp, pp, placements, claimBytesPerGpu: claim, reasons: [] }, score: best.score };
    }
  }
  return { plan: { feasible: false, tp: request.tp ?? null, pp: request.pp ?? null, placements: [], claimBytesPerGpu: null, reasons: [] }, score: null };
}

function bestSubset(node: PlannerNode, tp: number, claim: number, request: PlacementRequest): { score: Score; gpus: number[] } | null {
  const u = request.gpuMemoryUtilization;
  const free = node.gpus.map((g) => (g.exclusive ? -Infinity : u * g.memoryTotalBytes - g.allocatedBytes));
  const nodeFree = free.reduce((sum, f) => sum + Math.max(0, f), 0);
  const matrix = linkMatrix(node.topology, node.gpus.map((g) => g.index));
  let best: { score: Score; gpus: number[] } | null = null;
  for (const positions of combinations(node.gpus.length, tp)) {
    if (positions.some((p) => free[p] < claim)) continue;
    const topo = tp === 1 ? 0 : subsetCost(matrix, positions);
    const leftover = positions.reduce((sum, p) => sum + free[p] - claim, 0);
    const score = policyScore(request.policy, topo, leftover, nodeFree - tp * claim);
    if (!best || compareScores(score, best.score) < 0) best = { score, gpus: positions.map((p) => node.gpus[p].index) };
  }
  return best;
}

/** Every k-element subset of 0..n-1, in lexicographic order. */
export function* combinations(n: number, k: number): Generator<number[]> {
  if (k > n || k < 1) return;
  const pick = Array.from({ length: k }, (_, i) => i);
  while (true) {
    yield pick.slice();
    let i = k - 1;
    while (i >= 0 && pick[i] === n - k + i) i--;
    if (i < 0) return;
    pick[i]++;
    for (let j = i + 1; j < k; j++) pick[j] = pick[j - 1] + 1;
  }
}

/** The score of any plan (the planner's own, say), computed from the node objects as the exhaustive search does. */
export function scorePlan(nodes: PlannerNode[], request: PlacementRequest, plan: PlacementPlan): Score {
  let total: Score = { topo: 0, first: 0, second: 0 };
  for (const p of plan.placements) {
    const node = nodes.find((n) => n.name === p.node)!;
    const u = request.gpuMemoryUtilization;
    const free = node.gpus.map((g) => (g.exclusive ? -Infinity : u * g.memoryTotalBytes - g.allocatedBytes));
    const positions = p.gpus.map((index) => node.gpus.findIndex((g) => g.index === index));
    const topo = positions.length === 1 ? 0 : subsetCost(linkMatrix(node.topology, node.gpus.map((g) => g.index)), positions);
    const leftover = positions.reduce((sum, q) => sum + free[q] - plan.claimBytesPerGpu!, 0);
    const nodeFree = free.reduce((sum, f) => sum + Math.max(0, f), 0);
    total = addScores(total, policyScore(request.policy, topo, leftover, nodeFree - positions.length * plan.claimBytesPerGpu!));
  }
  return total;
}
