import type { Policy } from './types';

/**
 * A candidate's cost, compared in order (lower is better): the topology of its GPU set first (NVLink
 * within one NUMA node beats PCIe, beats crossing sockets), then the policy.
 * binpack: least memory left on the chosen GPUs (best fit), then the fullest node.
 * spread: the emptiest node, then the most memory left on the chosen GPUs.
 */
export interface Score {
  topo: number;
  first: number;
  second: number;
}

export function policyScore(policy: Policy, topo: number, leftoverOnChosen: number, nodeFreeAfter: number): Score {
  return policy === 'binpack'
    ? { topo, first: leftoverOnChosen, second: nodeFreeAfter }
    : { topo, first: -nodeFreeAfter, second: -leftoverOnChosen };
}

export function compareScores(a: Score, b: Score): number {
  return a.topo - b.topo || a.first - b.first || a.second - b.second;
}

export function addScores(a: Score, b: Score): Score {
  return { topo: a.topo + b.topo, first: a.first + b.first, second: a.second + b.second };
}
