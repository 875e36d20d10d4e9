import { nvidiaSmiFixture } from '../../nvidia-smi/fixtures';
import { parseTopology } from '../../nvidia-smi/topology';
import type { PlannerNode, Topology } from '../../types';
import type { ClaimPerGpu } from '../types';
import type { SeededRandom } from './prng';

/** Simulated nodes on the real captured topologies (../shared/fixtures/nvidia-smi/topo), for tests and the benchmark. */
export const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

let a100: Topology | undefined;
let rtx4090: Topology | undefined;
export const a100Topology = () => (a100 ??= parseTopology(nvidiaSmiFixture('topo/8x-a100-sxm4-40gb-nv12.txt')));
export const rtx4090Topology = () => (rtx4090 ??= parseTopology(nvidiaSmiFixture('topo/8x-rtx4090-pcie-with-nics.txt')));

export type NodeKind = 'a100' | 'rtx4090';

export function simulatedNode(name: string, kind: NodeKind, extra: Partial<PlannerNode> = {}): PlannerNode {
  // A100-SXM4-40GB reports 40960 MiB, an RTX 4090 24564 MiB.
  const totalMiB = kind === 'a100' ? 40960 : 24564;
  return {
    name,
    healthy: true,
    labels: { gpu: kind },
    engines: ['vllm'],
    gpus: Array.from({ length: 8 }, (_, index) => ({ index, memoryTotalBytes: totalMiB * MiB, allocatedBytes: 0 })),
    topology: kind === 'a100' ? a100Topology() : rtx4090Topology(),
    ...extra,
  };
}

/** A model's claim per GPU, shaped like the estimator's: weights split over tp × pp, plus a fixed part; TP must divide the heads. */
export function modelClaim(model: { weightsBytes: number; fixedBytes: number; heads: number; layers: number }): ClaimPerGpu {
  return (tp, pp) => {
    if (model.heads % tp !== 0) return { error: `tensor parallel ${tp} does not divide ${model.heads} attention heads` };
    if (pp > model.layers) return { error: `pipeline parallel ${pp} exceeds ${model.layers} layers` };
    return model.weightsBytes / (tp * pp) + model.fixedBytes;
  };
}

/** 7B/13B/34B/70B-like models in FP16, with KV cache and runtime overhead folded into the fixed part. */
export const MODEL_SHAPES = [
  { name: '7b', weightsBytes: 13.5 * GiB, fixedBytes: 3 * GiB, heads: 32, layers: 32 },
  { name: '13b', weightsBytes: 24.2 * GiB, fixedBytes: 3.5 * GiB, heads: 40, layers: 40 },
  { name: '34b', weightsBytes: 62.8 * GiB, fixedBytes: 4 * GiB, heads: 64, layers: 48 },
  { name: '70b', weightsBytes: 128.5 * GiB, fixedBytes: 4.5 * GiB, heads: 64, layers: 80 },
] as const;

/** A small random cluster: some nodes unhealthy, mislabelled, on another engine, partly used. */
export function randomCluster(rng: SeededRandom, options: { nodes: [number, number]; gpus: [number, number] }): PlannerNode[] {
  const count = rng.int(...options.nodes);
  return Array.from({ length: count }, (_, i) => {
    const kind: NodeKind = rng.pick(['a100', 'rtx4090'] as const);
    const node = simulatedNode(`node-${i}`, kind, {
      healthy: rng.chance(0.85),
      labels: { gpu: kind, zone: rng.pick(['a', 'b']) },
      engines: rng.chance(0.9) ? ['vllm'] : ['llamacpp'],
    });
    const gpuCount = rng.int(...options.gpus);
    node.gpus = node.gpus.slice(0, gpuCount).map((g) => ({
      ...g,
      allocatedBytes: rng.chance(0.4) ? rng.next() * g.memoryTotalBytes * 0.8 : 0,
      exclusive: rng.chance(0.05),
    }));
    return node;
  });
}
