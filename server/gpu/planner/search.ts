import { PlannerInputError, type FleetIndex } from './fleet-index';
import { nodeFilterReason } from './node-filter';
import { bestOnNode, splitsToTry, validateRequest, type NodeChoice } from './node-search';
import { explainInfeasible } from './reasons';
import { compareScores, type Score } from './score';
import type { PlacementPlan, PlacementRequest } from './types';

function byScoreThenNode(a: NodeChoice, b: NodeChoice): number {
  return compareScores(a.score, b.score) || a.node - b.node;
}

export function plan(ix: FleetIndex, request: PlacementRequest): PlacementPlan {
  validateRequest(request);
  const signature = `${request.engine}\u0000${JSON.stringify(Object.entries(request.labels ?? {}).sort())}`;
  const eligible = ix.eligibility(signature, (node) => nodeFilterReason(node, request) === null);
  const candidates: number[] = [];
  let maxGpus = 0;
  for (let n = 0; n < ix.nodes.length; n++) {
    if (!eligible[n]) continue;
    candidates.push(n);
    maxGpus = Math.max(maxGpus, ix.gpuCount(n));
  }
  const u = request.gpuMemoryUtilization;
  for (const { tp, pp } of splitsToTry(request, maxGpus, candidates.length)) {
    if (pp > candidates.length) continue;
    const claim = request.claimPerGpu(tp, pp);
    if (typeof claim !== 'number') continue;
    if (!(claim > 0 && Number.isFinite(claim))) throw new PlannerInputError(`claim for tensor parallel ${tp} × pipeline parallel ${pp} must be a positive number of bytes, got ${claim}`);
    const kth = ix.kthHeadroom(tp, u);
    if (pp === 1) {
      let best: NodeChoice | null = null;
      for (const n of candidates) {
        if (kth[n] < claim) continue;
        const choice = bestOnNode(ix, n, tp, claim, u, request.policy);
        if (choice && (!best || compareScores(choice.score, best.score) < 0)) best = choice;
      }
      if (best) return feasible(ix, tp, pp, claim, [best]);
    } else {
      let able = 0;
      for (const n of candidates) if (kth[n] >= claim) able++;
      if (able < pp) continue;
      const choices: NodeChoice[] = [];
      for (const n of candidates) {
        if (kth[n] < claim) continue;
        const choice = bestOnNode(ix, n, tp, claim, u, request.policy);
        if (choice) choices.push(choice);
      }
      if (choices.length >= pp) return feasible(ix, tp, pp, claim, choices.sort(byScoreThenNode).slice(0, pp));
    }
  }
  return {
    feasible: false,
    tp: request.tp ?? null,
    pp: request.pp ?? null,
    placements: [],
    claimBytesPerGpu: null,
    reasons: request.explain === false ? [] : explainInfeasible(ix, request, candidates),
  };
}

function feasible(ix: FleetIndex, tp: number, pp: number, claim: number, choices: NodeChoice[]): PlacementPlan {
  return {
    feasible: true,
    tp,
    pp,
    placements: choices.map((c) => ({ node: ix.nodes[c.node].name, gpus: c.positions.map((p) => ix.nodes[c.node].gpus[p].index) })),
    claimBytesPerGpu: claim,
    reasons: [],
  };
}
