import { and, eq, notInArray } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { gpuNodes, gpus } from '../../db/schema';
import type { GpuInfo, Topology } from '../../gpu/types';

export interface NodeRegistration {
  name: string;
  labels: Record<string, string>;
  gpus: GpuInfo[];
  topology: Topology | null;
  driverVersion?: string | null;
  cudaVersion?: string | null;
  /** The agent's control URL; null for the local agent of `enclave start`. */
  address?: string | null;
}

export type NodeRow = typeof gpuNodes.$inferSelect;

/**
 * Upserts the node and its GPUs by (node, index). GPUs that disappeared from the host (a card pulled, MIG
 * reconfigured) are deleted, so the planner never places on a device that is not there. A registration
 * counts as a heartbeat: the node is healthy from this moment.
 */
export async function registerNode(db: Db, reg: NodeRegistration): Promise<NodeRow> {
  return db.transaction(async (tx) => {
    const now = new Date();
    const fields = {
      labels: reg.labels,
      topology: (reg.topology ?? null) as Record<string, unknown> | null,
      driverVersion: reg.driverVersion ?? null,
      cudaVersion: reg.cudaVersion ?? null,
      address: reg.address ?? null,
      status: 'healthy' as const,
      lastHeartbeatAt: now,
    };
    const [node] = await tx.insert(gpuNodes).values({ name: reg.name, ...fields }).onConflictDoUpdate({ target: gpuNodes.name, set: fields }).returning();
    const indices = reg.gpus.map((g) => g.index);
    await tx.delete(gpus).where(indices.length ? and(eq(gpus.nodeId, node!.id), notInArray(gpus.index, indices)) : eq(gpus.nodeId, node!.id));
    for (const g of reg.gpus) {
      const row = {
        uuid: g.uuid,
        name: g.name ?? `GPU ${g.index}`,
        memoryTotalMiB: g.memoryTotalMiB,
        migParentUuid: g.mig?.parentUuid ?? null,
        numaNode: reg.topology?.numaNode[g.index] ?? null,
        updatedAt: now,
      };
      await tx.insert(gpus).values({ nodeId: node!.id, index: g.index, ...row }).onConflictDoUpdate({ target: [gpus.nodeId, gpus.index], set: row });
    }
    return node!;
  });
}
