import { PlannerInputError, type FleetIndex } from './fleet-index';
import { compareScores, policyScore, type Score } from './score';
import { subsetCost } from './topology-table';
import type { PlacementRequest, Policy } from './types';

/** Searching one node: the splits worth trying, and the best GPUs on a node for one split. */
export interface NodeChoice {
  node: number;
  /** Positions in the node's GPU list. */
  positions: number[];
  score: Score;
}

const DEFAULT_MAX_PP = 8;

export function validateRequest(request: PlacementRequest): void {
  const u = request.gpuMemoryUtilization;
  if (!(typeof u === 'number' && u > 0 && u <= 1)) throw new PlannerInputError(`gpu memory utilization must be in (0, 1], got ${u}`);
  for (const [name, value] of [['tensor parallel size', request.tp], ['pipeline parallel size', request.pp]] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new PlannerInputError(`${name} must be a positive integer, got ${value}`);
  }
  if (request.policy !== 'binpack' && request.policy !== 'spread') throw new PlannerInputError(`policy must be binpack or spread, got ${request.policy}`);
  if (typeof request.claimPerGpu !== 'function') throw new PlannerInputError('claimPerGpu is required');
}

/** The splits to try, in order: one GPU, one node with more GPUs, then more nodes (fewest first). */
export function splitsToTry(request: PlacementRequest, maxGpusPerNode: number, nodeCount: number): { tp: number; pp: number }[] {
  const tps = request.tp ? [request.tp] : Array.from({ length: maxGpusPerNode }, (_, i) => i + 1);
  const maxPp = Math.min(request.maxPp ?? DEFAULT_MAX_PP, nodeCount);
  const pps = request.pp ? [request.pp] : Array.from({ length: Math.max(1, maxPp) }, (_, i) => i + 1);
  return pps.flatMap((pp) => tps.map((tp) => ({ tp, pp })));
}

/** Scratch space for one node's GPU scan, reused across nodes and decisions. */
let freeScratch = new Float64Array(16);

/** The best `tp` GPUs on node n that each hold `claim`, or null. */
export function bestOnNode(ix: FleetIndex, n: number, tp: number, claim: number, utilization: number, policy: Policy): NodeChoice | null {
  const start = ix.offset[n];
  const count = ix.offset[n + 1] - start;
  if (count < tp) return null;
  if (freeScratch.length < count) freeScratch = new Float64Array(count);
  const free = freeScratch;
  let eligible = 0, eligibleCount = 0, nodeFree = 0;
  for (let p = 0; p < count; p++) {
    const f = ix.free(start + p, utilization);
    free[p] = f;
    if (f > 0) nodeFree += f;
    if (f >= claim) {
      eligibleCount++;
      if (p < 31) eligible |= 1 << p;
    }
  }
  if (eligibleCount < tp) return null;
  const nodeFreeAfter = nodeFree - tp * claim;

  if (tp === 1) {
    let pick = -1;
    for (let p = 0; p < count; p++) {
      if (free[p] < claim) continue;
      if (pick < 0 || (policy === 'binpack' ? free[p] < free[pick] : free[p] > free[pick])) pick = p;
    }
    return { node: n, positions: [pick], score: policyScore(policy, 0, free[pick] - claim, nodeFreeAfter) };
  }

  const table = ix.tables[n];
  if (!table) return greedyOnLargeNode(ix, n, tp, claim, policy, free, count, nodeFreeAfter);
  const masks = table.bySize[tp];
  const costs = table.costBySize[tp];
  let tier = -1, bestMask = 0;
  let best: Score | null = null;
  for (let i = 0; i < masks.length; i++) {
    const mask = masks[i];
    if ((mask & ~eligible) !== 0) continue;
    if (tier < 0) tier = costs[i];
    else if (costs[i] !== tier) break; // the table is sorted by cost: the cheapest tier is done
    let leftover = 0;
    for (let p = 0; p < count; p++) if (mask & (1 << p)) leftover += free[p] - claim;
    const score = policyScore(policy, tier, leftover, nodeFreeAfter);
    if (!best || compareScores(score, best) < 0) {
      best = score;
      bestMask = mask;
    }
  }
  if (!best) return null;
  const positions: number[] = [];
  for (let p = 0; p < count; p++) if (bestMask & (1 << p)) positions.push(p);
  return { node: n, positions, score: best };
}

/** Past MAX_TABLE_GPUS a node gets a policy-ordered pick rather than an exhaustive topology search. */
function greedyOnLargeNode(ix: FleetIndex, n: number, tp: number, claim: number, policy: Policy, free: Float64Array, count: number, nodeFreeAfter: number): NodeChoice {
  const order = Array.from({ length: count }, (_, p) => p).filter((p) => free[p] >= claim);
  order.sort((a, b) => (policy === 'binpack' ? free[a] - free[b] : free[b] - free[a]) || a - b);
  const positions = order.slice(0, tp).sort((a, b) => a - b);
  const leftover = positions.reduce((sum, p) => sum + free[p] - claim, 0);
  return { node: n, positions, score: policyScore(policy, subsetCost(ix.matrices[n], positions), leftover, nodeFreeAfter) };
}
