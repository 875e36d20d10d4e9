import type { PlacementRequest } from '../../server/gpu/planner';
import { GiB, MODEL_SHAPES, modelClaim, simulatedNode, type NodeKind } from '../../server/gpu/planner/testing/fleet';
import type { SeededRandom } from '../../server/gpu/planner/testing/prng';
import type { PlannerNode } from '../../server/gpu/types';

/** The simulated fleet: A100 NV12 hosts and RTX 4090 PCIe hosts (real topologies), in two zones. */
export function simulatedFleet(rng: SeededRandom, count: number): PlannerNode[] {
  return Array.from({ length: count }, (_, i) => {
    const kind: NodeKind = rng.chance(0.5) ? 'a100' : 'rtx4090';
    return simulatedNode(`node-${String(i).padStart(4, '0')}`, kind, { labels: { gpu: kind, zone: rng.pick(['a', 'b']) } });
  });
}

/** A 180B-like shape that only fits across nodes (pipeline parallel), beside the 7B/13B/34B/70B ones. */
const HUGE = { name: '180b', weightsBytes: 335 * GiB, fixedBytes: 5 * GiB, heads: 128, layers: 96 };
const SHAPES = [...MODEL_SHAPES, HUGE];
const WEIGHTS = [0.4, 0.25, 0.15, 0.15, 0.05]; // 7B most common, 180B rare

export interface WorkloadRequest extends PlacementRequest {
  model: string;
}

export function mixedRequest(rng: SeededRandom, policy: 'binpack' | 'spread' = 'binpack'): WorkloadRequest {
  let roll = rng.next(), at = 0;
  while (at < SHAPES.length - 1 && roll >= WEIGHTS[at]) roll -= WEIGHTS[at++];
  const shape = SHAPES[at];
  // Two in five name a TP (sometimes too small, forcing pipeline parallel across nodes); the rest let the planner choose.
  const tp = rng.chance(0.4) ? rng.pick([1, 2, 4, 8]) : undefined;
  return {
    model: shape.name,
    engine: 'vllm',
    labels: rng.chance(0.15) ? { gpu: 'a100' } : rng.chance(0.1) ? { zone: 'a' } : {},
    tp,
    claimPerGpu: modelClaim(shape),
    gpuMemoryUtilization: 0.9,
    policy,
    maxPp: 4,
  };
}
