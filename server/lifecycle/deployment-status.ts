import type { DEPLOYMENT_STATUSES } from '../db/schema';

export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

export interface ReplicaState {
  status: string;
  nodeName: string | null;
  gpuIndices: number[] | null;
}

/**
 * Where a failed replica stands. The row itself is the reconciler's memory, so a restarted worker
 * picks up exactly where the last one stopped:
 * - 'fresh': the agent reported the failure; its GPUs are still allocated (gpu_indices set).
 * - 'waiting': allocations released (gpu_indices null), a restart is due after the backoff.
 * - 'given-up': too many quick failures; unassigned from any node (node_name null) until start().
 */
export function failureStage(r: ReplicaState): 'fresh' | 'waiting' | 'given-up' {
  if (r.gpuIndices !== null) return 'fresh';
  return r.nodeName === null ? 'given-up' : 'waiting';
}

/**
 * A deployment's status from its replicas (rows not 'stopped'). 'stopped' is what the user asked for
 * and is kept as is; everything else is derived, so it can never drift from the rows.
 */
export function deriveDeploymentStatus(current: DeploymentStatus, desired: number, replicas: ReplicaState[]): DeploymentStatus {
  if (current === 'stopped' || desired === 0) return 'stopped';
  const active = replicas.filter((r) => r.status !== 'stopped');
  const ready = active.filter((r) => r.status === 'ready').length;
  if (ready >= desired) return 'ready';
  if (ready > 0) return 'degraded';
  if (active.some((r) => r.status === 'failed' && failureStage(r) === 'given-up')) return 'failed';
  return active.length ? 'starting' : 'pending';
}
