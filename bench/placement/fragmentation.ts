import type { FleetIndex } from '../../server/gpu/planner';
import { nodeFilterReason } from '../../server/gpu/planner/node-filter';
import type { WorkloadRequest } from './workload';

/**
 * Free GPUs that no pending (rejected) request can use: a GPU with free memory counts as usable when some
 * rejected request may run on its node and, at some split it allows, claims no more than the GPU has free.
 * Also: rejections where the eligible nodes held enough free memory in total (lost to fragmentation).
 */
export function fragmentation(index: FleetIndex, rejected: WorkloadRequest[]) {
  const u = 0.9;
  // Each rejected request's smallest per-GPU claim over the splits it allows (its easiest fit per GPU).
  const needs = rejected.map((r) => {
    let smallest = Infinity, totalAtSmallest = Infinity;
    for (let pp = 1; pp <= (r.maxPp ?? 8); pp++) {
      for (const tp of r.tp ? [r.tp] : [1, 2, 3, 4, 5, 6, 7, 8]) {
        const claim = r.claimPerGpu(tp, pp);
        if (typeof claim === 'number' && claim < smallest) [smallest, totalAtSmallest] = [claim, claim * tp * pp];
      }
    }
    return { request: r, smallest, totalAtSmallest };
  });
  let freeGpus = 0, idleGpus = 0, unusableFreeGpus = 0, freeBytes = 0;
  const eligibleFree = new Float64Array(rejected.length);
  index.nodes.forEach((node, n) => {
    const eligible = needs.map((need) => nodeFilterReason(node, need.request) === null);
    for (let p = 0; p < index.gpuCount(n); p++) {
      const slot = index.offset[n] + p;
      const free = index.free(slot, u);
      if (free <= 0) continue;
      freeGpus++;
      freeBytes += free;
      if (index.allocatedBytes[slot] === 0) idleGpus++;
      let usable = false;
      needs.forEach((need, i) => {
        if (!eligible[i]) return;
        eligibleFree[i] += free;
        if (free >= need.smallest) usable = true;
      });
      if (!usable) unusableFreeGpus++;
    }
  });
  const lostToFragmentation = needs.filter((need, i) => eligibleFree[i] >= need.totalAtSmallest).length;
  return { freeGpus, idleGpus, freeMemoryGiB: Math.round(freeBytes / 1024 ** 3), unusableFreeGpus, rejectedDespiteEnoughFreeMemory: lostToFragmentation };
}
