import { and, count, eq, inArray, ne } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deploymentReplicas, deployments, modelVersions, replicaMembers } from '../../db/schema';
import type { Assignment, ReplicaReport } from './assignment-types';

const ACTIVE = ['starting', 'ready', 'unhealthy'];

/** How many hosts each multi-node replica's current start spans (members of its generation + the head); absent: one host. */
export async function groupSizes(db: Db, replicaIds: string[]): Promise<Map<string, number>> {
  if (!replicaIds.length) return new Map();
  const rows = await db
    .select({ replicaId: replicaMembers.replicaId, members: count() })
    .from(replicaMembers)
    .innerJoin(deploymentReplicas, and(eq(deploymentReplicas.id, replicaMembers.replicaId), eq(deploymentReplicas.restarts, replicaMembers.generation)))
    .where(inArray(replicaMembers.replicaId, replicaIds))
    .groupBy(replicaMembers.replicaId);
  return new Map(rows.map((r) => [r.replicaId, Number(r.members) + 1]));
}

/**
 * The group members placed on this node, as assignments under the member's own id. A member whose group
 * is no longer running this start (the head failed, the group was stopped or restarted elsewhere) reads
 * 'stopped' at once, so its agent stops it without waiting for the reconciler: no half-group stays up.
 * A worker never receives the replica's secret: only the head serves the API.
 */
export async function listMemberAssignments(db: Db, nodeName: string): Promise<Assignment[]> {
  const rows = await db
    .select({
      memberId: replicaMembers.id,
      replicaId: replicaMembers.replicaId,
      generation: replicaMembers.generation,
      rank: replicaMembers.rank,
      gpuIndices: replicaMembers.gpuIndices,
      status: replicaMembers.status,
      pid: replicaMembers.pid,
      logPath: replicaMembers.logPath,
      replicaStatus: deploymentReplicas.status,
      restarts: deploymentReplicas.restarts,
      rendezvous: deploymentReplicas.rendezvous,
      deploymentId: deployments.id,
      servedName: deployments.name,
      engine: deployments.engine,
      spec: deployments.spec,
      modelLocation: modelVersions.location,
    })
    .from(replicaMembers)
    .innerJoin(deploymentReplicas, eq(deploymentReplicas.id, replicaMembers.replicaId))
    .innerJoin(deployments, eq(deployments.id, deploymentReplicas.deploymentId))
    .leftJoin(modelVersions, eq(modelVersions.id, deployments.modelVersionId))
    .where(and(eq(replicaMembers.nodeName, nodeName), ne(replicaMembers.status, 'stopped')));
  const sizes = await groupSizes(db, [...new Set(rows.map((r) => r.replicaId))]);
  return rows.map((r) => {
    const current = r.generation === r.restarts && ACTIVE.includes(r.replicaStatus);
    return {
      replicaId: r.memberId,
      deploymentId: r.deploymentId,
      servedName: r.servedName,
      engine: r.engine,
      spec: r.spec,
      modelLocation: r.modelLocation,
      gpuIndices: r.gpuIndices,
      status: current ? r.status : 'stopped',
      pid: r.pid,
      port: null,
      url: '',
      logPath: r.logPath,
      secret: '',
      group: { rank: r.rank, nodes: sizes.get(r.replicaId) ?? r.rank + 1, rendezvous: r.rendezvous, replicaId: r.replicaId },
    };
  });
}

/**
 * An agent's report on a member of its node. A stopped member stays stopped (a late exit report of an
 * earlier start must not reopen it); a member has no port, URL or rendezvous of its own.
 */
export async function reportMember(db: Db, nodeName: string, memberId: string, report: ReplicaReport): Promise<string | null> {
  const { pid, logPath, lastError } = report;
  // A member's own readiness is not a thing: the group is ready when its head's API is.
  const status = report.status === 'ready' || report.status === 'unhealthy' ? 'starting' : report.status;
  const patch = { status, pid, logPath, lastError: lastError ? lastError.slice(0, 2000) : lastError, updatedAt: new Date() };
  const [row] = await db
    .update(replicaMembers)
    .set(patch)
    .where(and(eq(replicaMembers.id, memberId), eq(replicaMembers.nodeName, nodeName), ne(replicaMembers.status, 'stopped')))
    .returning({ replicaId: replicaMembers.replicaId });
  if (!row) return null;
  const [replica] = await db.select({ deploymentId: deploymentReplicas.deploymentId }).from(deploymentReplicas).where(eq(deploymentReplicas.id, row.replicaId));
  return replica?.deploymentId ?? null;
}
