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
  /** Per request signature (engine, labels): which nodes pass the health, label and engine filter. */
  private readonly eligibleBySignature = new Map<string, Uint8Array>();
  /**
   * kth[k][n]: the k-th largest headroom on node n at utilisation `kthUtilization`: node n can hold k GPUs
   * of claim c only if kth[k][n] >= c. One comparison rules a node out, so a decision (and above all a
   * rejection, which tries every split) does not walk every GPU of every node.
   */
  private kth: Float64Array[] = [];
  private kthUtilization = NaN;
  private readonly maxGpus: number;

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
    this.maxGpus = nodes.reduce((max, node) => Math.max(max, node.gpus.length), 0);
  }

  /** Flags of the nodes a request may use at all, computed once per distinct (engine, labels). */
  eligibility(signature: string, passes: (node: PlannerNode) => boolean): Uint8Array {
    let flags = this.eligibleBySignature.get(signature);
    if (!flags) {
      flags = Uint8Array.from(this.nodes, (node) => (passes(node) ? 1 : 0));
      this.eligibleBySignature.set(signature, flags);
    }
    return flags;
  }

  /** kth[k] for this utilisation (rebuilt when a request brings another one). */
  kthHeadroom(k: number, utilization: number): Float64Array {
    if (utilization !== this.kthUtilization) {
      this.kthUtilization = utilization;
      this.kth = Array.from({ length: this.maxGpus + 1 }, () => new Float64Array(this.nodes.length).fill(-Infinity));
      for (let n = 0; n < this.nodes.length; n++) this.refreshKth(n);
    }
    return this.kth[k] ?? EMPTY;
  }

  private refreshKth(n: number) {
    if (Number.isNaN(this.kthUtilization)) return;
    const start = this.offset[n], count = this.gpuCount(n);
    const headroom: number[] = [];
    for (let p = 0; p < count; p++) headroom.push(this.free(start + p, this.kthUtilization));
    headroom.sort((a, b) => b - a);
    for (let k = 1; k <= count; k++) this.kth[k][n] = headroom[k - 1];
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
      this.refreshKth(n);
    }
  }
}

const EMPTY = new Float64Array(0);

/** Input the planner cannot work with (a bad utilisation, a TP of zero...): the message says which. */
export class PlannerInputError extends Error {
  override name = 'PlannerInputError';
}
