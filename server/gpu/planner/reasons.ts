import type { FleetIndex } from './fleet-index';
import { nodeFilterReason } from './node-filter';
import { bestOnNode, splitsToTry } from './node-search';
import type { PlacementRequest } from './types';

const GiB = 1024 ** 3;

export function formatBytes(bytes: number): string {
  if (Math.abs(bytes) >= GiB / 10) return `${(bytes / GiB).toFixed(1)} GiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

const gpus = (count: number) => `${count} GPU${count === 1 ? '' : 's'}`;

/** One line per node saying, in plain words, why this deployment does not fit there; then one for splitting across nodes. */
export function explainInfeasible(ix: FleetIndex, request: PlacementRequest, candidates: number[]): string[] {
  if (ix.nodes.length === 0) return ['no GPU nodes are registered'];
  const lines = ix.nodes.map((node, n) => `${node.name}: ${nodeFilterReason(node, request) ?? memoryReason(ix, n, request, candidates)}`);
  const across = acrossNodesReason(ix, request, candidates);
  if (across) lines.push(across);
  return lines;
}

function memoryReason(ix: FleetIndex, n: number, request: PlacementRequest, candidates: number[]): string {
  const count = ix.gpuCount(n);
  const pp = request.pp ?? 1;
  if (request.tp && request.tp > count) return `tensor parallel ${request.tp} needs ${gpus(request.tp)}, node has ${count}`;
  // Without a fixed TP, describe the node's best chance: the most GPUs it has that the model can be split over.
  let tp = request.tp ?? 0;
  if (!tp) {
    for (let t = count; t >= 1 && !tp; t--) if (typeof request.claimPerGpu(t, pp) === 'number') tp = t;
  }
  const claim = request.claimPerGpu(tp || 1, pp);
  if (typeof claim !== 'number') return claim.error;

  const u = request.gpuMemoryUtilization;
  if (bestOnNode(ix, n, tp, claim, u, request.policy)) {
    const able = candidates.filter((c) => bestOnNode(ix, c, tp, claim, u, request.policy)).length;
    return `can hold one of ${pp} pipeline stages (${gpus(tp)} × ${formatBytes(claim)}), but only ${able} node${able === 1 ? '' : 's'} can`;
  }
  const usable = ix.nodes[n].gpus
    .map((gpu, p) => ({ index: gpu.index, free: ix.free(ix.offset[n] + p, u) }))
    .filter((g) => g.free !== -Infinity)
    .sort((a, b) => b.free - a.free || a.index - b.index);
  if (usable.length === 0) return `all ${gpus(count)} are held exclusively by other work`;
  // GPUs with the same free memory share one entry, so an empty 8-GPU node is one phrase, not eight.
  const groups: { amount: string; indices: number[] }[] = [];
  for (const g of usable.slice(0, tp)) {
    const amount = formatBytes(Math.max(0, g.free));
    if (groups.at(-1)?.amount === amount) groups.at(-1)!.indices.push(g.index);
    else groups.push({ amount, indices: [g.index] });
  }
  const largest = groups.map((g) => `${g.amount} (GPU${g.indices.length > 1 ? 's' : ''} ${g.indices.join(', ')})`).join(', ');
  return `needs ${formatBytes(claim)} per GPU on ${gpus(tp)}; largest free: ${largest}`;
}

/** When pipeline parallelism across nodes was tried, what its largest split would need. */
function acrossNodesReason(ix: FleetIndex, request: PlacementRequest, candidates: number[]): string | null {
  if (request.pp === 1 || candidates.length < 2) return null;
  const maxGpus = Math.max(...candidates.map((c) => ix.gpuCount(c)));
  const splits = splitsToTry(request, maxGpus, candidates.length).filter((s) => s.pp > 1 && s.pp <= candidates.length);
  const last = splits.reverse().find((s) => typeof request.claimPerGpu(s.tp, s.pp) === 'number');
  if (!last) return null;
  const claim = request.claimPerGpu(last.tp, last.pp) as number;
  const able = candidates.filter((c) => bestOnNode(ix, c, last.tp, claim, request.gpuMemoryUtilization, request.policy)).length;
  return `across nodes: pipeline parallel ${last.pp} × tensor parallel ${last.tp} needs ${formatBytes(claim)} per GPU on ${gpus(last.tp)} of each node; ${able} of the ${last.pp} nodes needed can hold that`;
}
