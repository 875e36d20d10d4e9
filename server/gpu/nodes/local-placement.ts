import { and, desc, eq, gt, inArray, ne } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deploymentReplicas, deployments } from '../../db/schema';
import { restartDelayMs } from '../../runtime/backoff';
import { ACTIVE_REPLICA_STATUSES, refreshDeploymentStatus } from './assignments';

const CRASH_WINDOW_MS = 10 * 60_000;
const MAX_CRASHES_IN_WINDOW = 10;

/**
 * The one-machine stand-in for the deploy reconciler: puts the missing replicas of every llamacpp
 * deployment on this node (rows 'starting', no pid), and re-places a crashed one after an exponential
 * backoff, giving up after 10 crashes in 10 minutes. The agent's supervisor then runs them. Once the
 * worker's reconciler places replicas, the agent runs with this turned off.
 */
export async function placeLocalReplicas(db: Db, nodeName: string, now = new Date()): Promise<number> {
  const wanted = await db
    .select({ id: deployments.id, desired: deployments.desiredReplicas })
    .from(deployments)
    .where(and(eq(deployments.engine, 'llamacpp'), ne(deployments.status, 'stopped')));
  let placed = 0;
  for (const d of wanted) {
    const active = await db
      .select({ id: deploymentReplicas.id })
      .from(deploymentReplicas)
      .where(and(eq(deploymentReplicas.deploymentId, d.id), inArray(deploymentReplicas.status, [...ACTIVE_REPLICA_STATUSES])));
    const missing = d.desired - active.length;
    if (missing <= 0) continue;
    const crashes = await db
      .select({ at: deploymentReplicas.updatedAt })
      .from(deploymentReplicas)
      .where(and(eq(deploymentReplicas.deploymentId, d.id), eq(deploymentReplicas.nodeName, nodeName), eq(deploymentReplicas.status, 'failed'), gt(deploymentReplicas.updatedAt, new Date(now.getTime() - CRASH_WINDOW_MS))))
      .orderBy(desc(deploymentReplicas.updatedAt));
    if (crashes.length >= MAX_CRASHES_IN_WINDOW) continue;
    if (crashes.length && now.getTime() - crashes[0]!.at.getTime() < restartDelayMs(crashes.length)) continue;
    await db.insert(deploymentReplicas).values(Array.from({ length: missing }, () => ({ deploymentId: d.id, nodeName, url: '', status: 'starting' as const })));
    await refreshDeploymentStatus(db, d.id);
    placed += missing;
  }
  return placed;
}
