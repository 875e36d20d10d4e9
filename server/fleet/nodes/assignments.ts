import { and, desc, eq, ne } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { deploymentReplicas, deployments, modelVersions, REPLICA_STATUSES, type EngineName } from '../../db/schema';
import { replicaSecret } from '../../engines/replica-secret';

/** A replica the reconciler placed on a node, with what the agent needs to run it. */
export interface Assignment {
  replicaId: string;
  deploymentId: string;
  servedName: string;
  engine: EngineName;
  spec: Record<string, unknown>;
  /** The model version's location (GGUF file, checkpoint directory); null for upstream. */
  modelLocation: string | null;
  gpuIndices: number[];
  status: (typeof REPLICA_STATUSES)[number];
  pid: number | null;
  port: number | null;
  url: string;
  logPath: string | null;
  /** The replica's secret (engines/replica-secret.ts): what its engine requires, and all an agent needs of the master key. */
  secret: string;
}

/** What an agent may change on a replica row of its own node; nothing else (not its node, not its GPUs). */
export const replicaReportSchema = z
  .object({
    status: z.enum(['starting', 'ready', 'unhealthy', 'failed', 'stopped']),
    pid: z.number().int().positive().nullable(),
    port: z.number().int().min(1).max(65535).nullable(),
    url: z.string().max(500),
    logPath: z.string().max(1000).nullable(),
    lastError: z.string().max(4000).nullable(),
  })
  .partial()
  .strict();
export type ReplicaReport = z.infer<typeof replicaReportSchema>;

/**
 * The replica rows assigned to this node that are not history (stopped rows matter only while running),
 * each with its secret: a remote agent gets its own replicas' secrets this way, never the master key.
 */
export async function listAssignments(db: Db, nodeName: string, masterKey: Buffer): Promise<Assignment[]> {
  const rows = await db
    .select({
      replicaId: deploymentReplicas.id,
      deploymentId: deploymentReplicas.deploymentId,
      servedName: deployments.name,
      engine: deployments.engine,
      spec: deployments.spec,
      modelLocation: modelVersions.location,
      gpuIndices: deploymentReplicas.gpuIndices,
      status: deploymentReplicas.status,
      pid: deploymentReplicas.pid,
      port: deploymentReplicas.port,
      url: deploymentReplicas.url,
      logPath: deploymentReplicas.logPath,
    })
    .from(deploymentReplicas)
    .innerJoin(deployments, eq(deployments.id, deploymentReplicas.deploymentId))
    .leftJoin(modelVersions, eq(modelVersions.id, deployments.modelVersionId))
    .where(eq(deploymentReplicas.nodeName, nodeName));
  return rows.map((r) => ({ ...r, gpuIndices: r.gpuIndices ?? [], secret: replicaSecret(masterKey, r.replicaId) }));
}

/**
 * Writes an agent's report on one replica, scoped to the agent's node: returns the replica's deployment,
 * or null for a row of another node (or none). The deployment's own status is the reconciler's to derive.
 */
export async function reportReplica(db: Db, nodeName: string, replicaId: string, report: ReplicaReport): Promise<string | null> {
  const patch: Partial<typeof deploymentReplicas.$inferInsert> = { ...report, updatedAt: new Date() };
  if (report.lastError) patch.lastError = report.lastError.slice(0, 2000);
  const [row] = await db
    .update(deploymentReplicas)
    .set(patch)
    .where(and(eq(deploymentReplicas.id, replicaId), eq(deploymentReplicas.nodeName, nodeName)))
    .returning({ deploymentId: deploymentReplicas.deploymentId });
  return row?.deploymentId ?? null;
}

export const ACTIVE_REPLICA_STATUSES = ['starting', 'ready', 'unhealthy'] as const;
export const isActive = (status: string) => (ACTIVE_REPLICA_STATUSES as readonly string[]).includes(status);
