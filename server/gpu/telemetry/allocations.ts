import { and, asc, eq, gt, isNull, lte, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { allocations, deploymentReplicas, deployments, jobs } from '../../db/schema';

/** Who held a GPU from when to when (clipped to the window), for the bands drawn over the charts. */
export interface AllocationInterval {
  gpuIndex: number;
  holderKind: 'replica' | 'job';
  holderId: string;
  /** The deployment's name for a replica, the job's name for a job; the id's start when the holder is gone. */
  holderName: string;
  deploymentId: string | null;
  memoryBytes: number;
  /** Epoch ms, clipped to the window. */
  from: number;
  /** Epoch ms; null while it is still held. */
  to: number | null;
}

/** Allocations with their holders: the deployment behind a replica, the job holding a GPU itself. */
export function allocationsWithHolders(db: Db) {
  return db
    .select({
      nodeId: allocations.nodeId,
      gpuIndex: allocations.gpuIndex,
      holderKind: allocations.holderKind,
      holderId: allocations.holderId,
      memoryBytes: allocations.memoryBytes,
      createdAt: allocations.createdAt,
      releasedAt: allocations.releasedAt,
      deploymentId: deployments.id,
      deploymentName: deployments.name,
      jobName: jobs.name,
    })
    .from(allocations)
    .leftJoin(deploymentReplicas, and(eq(allocations.holderKind, 'replica'), eq(deploymentReplicas.id, allocations.holderId)))
    .leftJoin(deployments, eq(deployments.id, deploymentReplicas.deploymentId))
    .leftJoin(jobs, and(eq(allocations.holderKind, 'job'), eq(jobs.id, allocations.holderId)));
}

/** Allocations overlapping [from, to] on one node (or every node when nodeId is null), with their holders' names. */
export async function allocationIntervals(db: Db, nodeId: string | null, from: Date, to: Date, gpuIndex?: number): Promise<(AllocationInterval & { nodeId: string })[]> {
  const rows = await allocationsWithHolders(db)
    .where(
      and(
        nodeId === null ? sql`true` : eq(allocations.nodeId, nodeId),
        lte(allocations.createdAt, to),
        or(isNull(allocations.releasedAt), gt(allocations.releasedAt, from)),
        gpuIndex === undefined ? sql`true` : eq(allocations.gpuIndex, gpuIndex),
      ),
    )
    .orderBy(asc(allocations.gpuIndex), asc(allocations.createdAt));
  return rows.map((r) => ({
    nodeId: r.nodeId,
    gpuIndex: r.gpuIndex,
    holderKind: r.holderKind,
    holderId: r.holderId,
    holderName: r.deploymentName ?? r.jobName ?? r.holderId.slice(0, 8),
    deploymentId: r.deploymentId ?? null,
    memoryBytes: Number(r.memoryBytes),
    from: Math.max(r.createdAt.getTime(), from.getTime()),
    to: r.releasedAt ? r.releasedAt.getTime() : null,
  }));
}

const MIB = 1024 * 1024;

/** Memory claimed on a GPU during a bucket: every allocation that overlaps it counts (the peak, as for memory used). */
export function allocatedMiBPerBucket(intervals: AllocationInterval[], bucketStart: number, bucketEnd: number): number {
  let bytes = 0;
  for (const a of intervals) if (a.from < bucketEnd && (a.to === null || a.to > bucketStart)) bytes += a.memoryBytes;
  return Math.round(bytes / MIB);
}
