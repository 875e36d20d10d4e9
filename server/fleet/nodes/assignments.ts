import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deploymentReplicas, deployments, modelVersions } from '../../db/schema';
import { replicaSecret } from '../../engines/replica-secret';
import { groupSizes, listMemberAssignments, reportMember } from './group-assignments';
import type { Assignment, ReplicaReport } from './assignment-types';

export { replicaReportSchema, type Assignment, type AssignmentGroup, type ReplicaReport } from './assignment-types';

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
      artifactKey: modelVersions.artifactKey,
      modelSize: modelVersions.sizeBytes,
      modelSha256: modelVersions.sha256,
      gpuIndices: deploymentReplicas.gpuIndices,
      status: deploymentReplicas.status,
      pid: deploymentReplicas.pid,
      port: deploymentReplicas.port,
      url: deploymentReplicas.url,
      logPath: deploymentReplicas.logPath,
      rendezvous: deploymentReplicas.rendezvous,
    })
    .from(deploymentReplicas)
    .innerJoin(deployments, eq(deployments.id, deploymentReplicas.deploymentId))
    .leftJoin(modelVersions, eq(modelVersions.id, deployments.modelVersionId))
    .where(eq(deploymentReplicas.nodeName, nodeName));
  // A replica with members of its current start is a group's head; its members on this node come after.
  const sizes = await groupSizes(db, rows.map((r) => r.replicaId));
  const replicas: Assignment[] = rows.map(({ rendezvous, artifactKey, modelSize, modelSha256, ...r }) => {
    const nodes = sizes.get(r.replicaId);
    return { ...r, ...(artifactKey ? { modelArtifact: { key: artifactKey, sizeBytes: modelSize, sha256: modelSha256 } } : {}), gpuIndices: r.gpuIndices ?? [], secret: replicaSecret(masterKey, r.replicaId), ...(nodes ? { group: { rank: 0, nodes, rendezvous, replicaId: r.replicaId } } : {}) };
  });
  return [...replicas, ...(await listMemberAssignments(db, nodeName))];
}

/**
 * Writes an agent's report on one replica, scoped to the agent's node: returns the replica's deployment,
 * or null for a row of another node (or none). The deployment's own status is the reconciler's to derive.
 */
export async function reportReplica(db: Db, nodeName: string, replicaId: string, report: ReplicaReport): Promise<string | null> {
  const found = await reportReplicaRow(db, nodeName, replicaId, report);
  // Not a replica of this node: maybe a group member placed here (ids are UUIDs: never both).
  return found ?? (report.rendezvous === undefined ? reportMember(db, nodeName, replicaId, report) : null);
}

async function reportReplicaRow(db: Db, nodeName: string, replicaId: string, report: ReplicaReport): Promise<string | null> {
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
