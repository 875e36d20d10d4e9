import { linkMatrix, subsetTable, type LinkMatrix, type SubsetTable } from './topology-table';
import type { PlacementPlan, PlannerNode } from './types';

/**
 * The fleet in flat typed arrays, so one decision is a tight scan rather than object walks, and so a
 * sequence of decisions can commit allocations as it goes (the benchmark, a dry run of several replicas).
 * GPU slot `offset[n] + p` is position p of node n's GPU list.
 */
export class FleetIndex {
  readonly nodes: PlannerNode[];
  readonly offset: Int32Array;
  readonly totalBytes: Float64Array;
  readonly allocatedBytes: Float64Array;
  readonly unusable: Uint8Array;
  readonly matrices: LinkMatrix[];
  readonly tables: (SubsetTable | null)[];
  private readonly byName = new Map<string, number>();

  constructor(nodes: PlannerNode[]) {
    this.nodes = nodes;
    this.offset = new Int32Array(nodes.length + 1);
    nodes.forEach((node, n) => {
      if (this.byName.has(node.name)) throw new PlannerInputError(`node name ${node.name} appears twice`);
      this.byName.set(node.name, n);
      this.offset[n + 1] = this.offset[n] + node.gpus.length;
    });
    const slots = this.offset[nodes.length];
    this.totalBytes = new Float64Array(slots);
    this.allocatedBytes = new Float64Array(slots);
    this.unusable = new Uint8Array(slots);
    this.matrices = [];
    this.tables = [];
    nodes.forEach((node, n) => {
      node.gpus.forEach((gpu, p) => {
        const slot = this.offset[n] + p;
        this.totalBytes[slot] = Number.isFinite(gpu.memoryTotalBytes) && gpu.memoryTotalBytes > 0 ? gpu.memoryTotalBytes : 0;
        this.allocatedBytes[slot] = Number.isFinite(gpu.allocatedBytes) && gpu.allocatedBytes > 0 ? gpu.allocatedBytes : 0;
        // A GPU held exclusively (a training job, a MIG-partitioned card) takes no share of anything.
        this.unusable[slot] = gpu.exclusive ? 1 : 0;
      });
      const matrix = linkMatrix(node.topology, node.gpus.map((g) => g.index));
      this.matrices.push(matrix);
      this.tables.push(subsetTable(matrix));
    });
  }

  gpuCount(n: number): number {
    return this.offset[n + 1] - this.offset[n];
  }

  /** Free bytes on one GPU for a deployment allowed `utilization` of each GPU's total. */
  free(slot: number, utilization: number): number {
    return this.unusable[slot] ? -Infinity : utilization * this.totalBytes[slot] - this.allocatedBytes[slot];
  }

  /** Records a feasible plan's claim on its GPUs, so that the next decision sees them taken. */
  commit(plan: PlacementPlan): void {
    this.apply(plan, 1);
  }

  /** Gives a committed plan's claim back (a replica ended). */
  release(plan: PlacementPlan): void {
    this.apply(plan, -1);
  }

  private apply(plan: PlacementPlan, sign: 1 | -1) {
    if (!plan.feasible || plan.claimBytesPerGpu === null) return;
    for (const placement of plan.placements) {
      const n = this.byName.get(placement.node);
      if (n === undefined) throw new PlannerInputError(`plan names node ${placement.node}, which this fleet does not have`);
      for (const index of placement.gpus) {
        const p = this.nodes[n].gpus.findIndex((g) => g.index === index);
        if (p < 0) throw new PlannerInputError(`plan names GPU ${index} on ${placement.node}, which it does not have`);
        const slot = this.offset[n] + p;
        this.allocatedBytes[slot] = Math.max(0, this.allocatedBytes[slot] + sign * plan.claimBytesPerGpu);
      }
    }
  }
}

/** Input the planner cannot work with (a bad utilisation, a TP of zero...): the message says which. */
export class PlannerInputError extends Error {
  override name = 'PlannerInputError';
}
