import { and, eq, inArray, sql } from 'drizzle-orm';
import { deploymentReplicas, gpuNodes, replicaMembers } from '../db/schema';
import type { DbOrTx } from '../db/types';
import type { Choice } from '../gpu/placement/claims';

/**
 * A multi-node replica is ONE replica: its row is the head (rank 0, the API the gateway routes to), the
 * other hosts are member rows of the row's current start. These rules keep a group whole.
 */

/** Writes a fresh placement's members (rank 1..), under the start they belong to (the replica's restarts). */
export async function placeMembers(tx: DbOrTx, replicaId: string, generation: number, choice: Extract<Choice, { feasible: true }>): Promise<void> {
  if (!choice.members?.length) return;
  await tx.insert(replicaMembers).values(choice.members.map((m) => ({ replicaId, generation, rank: m.rank, nodeName: m.node, gpuIndices: m.gpus })));
}


/**
 * Run at the start of every reconcile pass, under the deployment's lock:
 * 1. A running group with a member that failed or stopped, or a host that went silent (the node sweep
 *    marked it unhealthy), is failed as a whole, with the reason; the usual failure handling then
 *    releases every host's GPUs and restarts the group on a fresh placement after the backoff.
 * 2. Members of a start that is over (the group failed, stopped or restarted) are stopped, so their
 *    agents stop the workers: no half-group keeps GPUs busy on another host.
 */
export async function enforceGroups(tx: DbOrTx, deploymentId: string): Promise<void> {
  const members = await tx
    .select({
      replicaId: replicaMembers.replicaId,
      rank: replicaMembers.rank,
      node: replicaMembers.nodeName,
      status: replicaMembers.status,
      lastError: replicaMembers.lastError,
      headNode: deploymentReplicas.nodeName,
    })
    .from(replicaMembers)
    .innerJoin(deploymentReplicas, and(eq(deploymentReplicas.id, replicaMembers.replicaId), eq(deploymentReplicas.restarts, replicaMembers.generation)))
    .where(and(eq(deploymentReplicas.deploymentId, deploymentId), inArray(deploymentReplicas.status, ['starting', 'ready', 'unhealthy'])))
    .orderBy(replicaMembers.rank);
  if (members.length) {
    const names = [...new Set(members.flatMap((m) => [m.node, m.headNode ?? '']))];
    const silent = new Set((await tx.select({ name: gpuNodes.name }).from(gpuNodes).where(and(inArray(gpuNodes.name, names), eq(gpuNodes.status, 'unhealthy')))).map((n) => n.name));
    const failed = new Map<string, string>();
    for (const m of members) {
      if (failed.has(m.replicaId)) continue;
      if (m.status !== 'starting') failed.set(m.replicaId, `group member rank ${m.rank} on ${m.node} ${m.status === 'failed' ? `failed: ${m.lastError ?? 'no reason reported'}` : 'was stopped'}; the whole group is restarted`);
      else if (silent.has(m.node)) failed.set(m.replicaId, `host ${m.node} (group member rank ${m.rank}) went silent (no heartbeat); the whole group is restarted`);
      else if (m.headNode && silent.has(m.headNode)) failed.set(m.replicaId, `host ${m.headNode} (the group's head) went silent (no heartbeat); the whole group is restarted`);
    }
    for (const [replicaId, why] of failed)
      await tx.update(deploymentReplicas).set({ status: 'failed', lastError: why, updatedAt: new Date() }).where(eq(deploymentReplicas.id, replicaId));
  }
  await tx.execute(sql`
    UPDATE ${replicaMembers} m SET status = 'stopped', updated_at = now()
    FROM ${deploymentReplicas} r
    WHERE m.replica_id = r.id AND r.deployment_id = ${deploymentId} AND m.status <> 'stopped'
      AND (m.generation <> r.restarts OR r.status NOT IN ('starting', 'ready', 'unhealthy'))`);
}

/** For the event line: where a placement put each host ("node-a GPUs 0,1 + node-b GPUs 2,3"). */
export function groupHosts(choice: Extract<Choice, { feasible: true }>): string {
  if (!choice.members?.length) return '';
  return ` + ${choice.members.map((m) => `${m.node} GPUs ${m.gpus.join(',')} (rank ${m.rank})`).join(' + ')}`;
}

