import type { Topology } from '../types';

/**
 * How good a set of GPUs on one node is for tensor parallelism, from `nvidia-smi topo -m`.
 * Integer costs, so that equal sets sum to exactly equal totals whatever the order.
 */
const PCIE_COST: Record<string, number> = { PIX: 1000, PXB: 2000, PHB: 3000, NODE: 4000, SYS: 5000 };
const UNKNOWN_LINK = 6000;
/** Crossing NUMA nodes costs CPU-side bandwidth even when every GPU pair is NVLinked (A100 p4d: 0-3 | 4-7). */
const EXTRA_NUMA_NODE = 500;
/** Exact subset tables cost 2^n entries; larger nodes fall back to a greedy choice (see search). */
export const MAX_TABLE_GPUS = 16;

export function linkCost(link: string | undefined): number {
  if (link === undefined) return UNKNOWN_LINK;
  const label = link.trim().toUpperCase();
  if (label === 'X') return 0;
  // NV# bonds # NVLinks: more links, more bandwidth, still far ahead of any PCIe path.
  const nv = /^NV(\d+)$/.exec(label);
  if (nv) return 200 - Math.min(Number(nv[1]), 99);
  return PCIE_COST[label] ?? UNKNOWN_LINK;
}

/** Pairwise costs and NUMA nodes for a node's GPUs, in the order of `gpuIndices`. */
export interface LinkMatrix {
  size: number;
  cost: Int32Array;
  numa: (number | null)[];
}

export function linkMatrix(topology: Topology | null, gpuIndices: number[]): LinkMatrix {
  const size = gpuIndices.length;
  const cost = new Int32Array(size * size);
  const rows = gpuIndices.map((index) => topology?.devices.indexOf(`GPU${index}`) ?? -1);
  for (let a = 0; a < size; a++) {
    for (let b = 0; b < size; b++) {
      if (a === b) continue;
      const ra = rows[a], rb = rows[b];
      cost[a * size + b] = ra < 0 || rb < 0 ? UNKNOWN_LINK : linkCost(topology!.links[ra]?.[rb]);
    }
  }
  const numa = gpuIndices.map((index) => topology?.numaNode[index] ?? null);
  return { size, cost, numa };
}

/** Cost of using the GPUs at `positions` together: every pair's link, plus each extra NUMA node spanned. */
export function subsetCost(m: LinkMatrix, positions: number[]): number {
  let total = 0;
  for (let i = 0; i < positions.length; i++) {
    for (let j = i + 1; j < positions.length; j++) total += m.cost[positions[i] * m.size + positions[j]];
  }
  const numas = new Set(positions.map((p) => m.numa[p]).filter((n) => n !== null));
  return total + EXTRA_NUMA_NODE * Math.max(0, numas.size - 1);
}

/** Every GPU subset of each size, cheapest first: built once per distinct topology, shared by its nodes. */
export interface SubsetTable {
  size: number;
  /** bySize[k]: bitmasks of k GPUs (bit = position in the node's GPU list), in ascending cost. */
  bySize: Int32Array[];
  costBySize: Int32Array[];
}

const tables = new Map<string, SubsetTable>();

function tableKey(m: LinkMatrix): string {
  return `${m.size}|${m.cost.join(',')}|${m.numa.join(',')}`;
}

export function subsetTable(m: LinkMatrix): SubsetTable | null {
  if (m.size > MAX_TABLE_GPUS) return null;
  const key = tableKey(m);
  const cached = tables.get(key);
  if (cached) return cached;
  const buckets: { mask: number; cost: number }[][] = Array.from({ length: m.size + 1 }, () => []);
  for (let mask = 1; mask < 1 << m.size; mask++) {
    const positions: number[] = [];
    for (let p = 0; p < m.size; p++) if (mask & (1 << p)) positions.push(p);
    buckets[positions.length].push({ mask, cost: subsetCost(m, positions) });
  }
  const table: SubsetTable = { size: m.size, bySize: [], costBySize: [] };
  for (const bucket of buckets) {
    bucket.sort((x, y) => x.cost - y.cost || x.mask - y.mask);
    table.bySize.push(Int32Array.from(bucket, (b) => b.mask));
    table.costBySize.push(Int32Array.from(bucket, (b) => b.cost));
  }
  tables.set(key, table);
  return table;
}
