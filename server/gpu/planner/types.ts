import type { PlannerNode } from '../types';

export type { PlannerNode };
export type Policy = 'binpack' | 'spread';

/**
 * What one GPU must hold for a deployment split tensor-parallel `tp` ways and pipeline-parallel `pp` ways,
 * or why that split is impossible (the estimator's words, e.g. TP not dividing the attention heads).
 */
export type ClaimPerGpu = (tp: number, pp: number) => number | { error: string };

export interface PlacementRequest {
  engine: string;
  /** Labels a node must carry, with these exact values. */
  labels?: Record<string, string>;
  /** Fixed tensor-parallel size; without it the planner picks the smallest valid one that fits. */
  tp?: number;
  /** Fixed pipeline-parallel size (number of nodes); without it one node is tried before several. */
  pp?: number;
  claimPerGpu: ClaimPerGpu;
  /** Fraction of each GPU's total memory a deployment may count on (vLLM's --gpu-memory-utilization). */
  gpuMemoryUtilization: number;
  policy: Policy;
  /** Largest pipeline-parallel size tried across nodes (default 8). */
  maxPp?: number;
  /** Set false to skip the per-node reasons when nothing fits (the benchmark's hot loop). */
  explain?: boolean;
}

export interface Placement {
  node: string;
  gpus: number[];
}

export interface PlacementPlan {
  feasible: boolean;
  tp: number | null;
  pp: number | null;
  placements: Placement[];
  /** The claim each chosen GPU takes, in bytes. */
  claimBytesPerGpu: number | null;
  /** One plain-words line per node when nothing fits (empty when it fits or explain is false). */
  reasons: string[];
}
