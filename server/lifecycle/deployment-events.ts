import { desc, eq } from 'drizzle-orm';
import { deploymentEvents } from '../db/schema';
import type { DbOrTx } from '../db/types';

export type DeploymentEventKind = 'status' | 'restart' | 'error' | 'scale' | 'info';

export async function recordEvent(db: DbOrTx, deploymentId: string, kind: DeploymentEventKind, message: string, replicaId?: string): Promise<void> {
  await db.insert(deploymentEvents).values({ deploymentId, kind, message: message.slice(0, 4000), replicaId: replicaId ?? null });
}

/**
 * Records the event unless the deployment's latest event already says the same thing: the sweep looks
 * at every deployment every few seconds, and "nothing fits" must not fill the history with copies.
 */
export async function recordEventOnce(db: DbOrTx, deploymentId: string, kind: DeploymentEventKind, message: string, replicaId?: string): Promise<boolean> {
  const [last] = await db
    .select({ kind: deploymentEvents.kind, message: deploymentEvents.message })
    .from(deploymentEvents)
    .where(eq(deploymentEvents.deploymentId, deploymentId))
    .orderBy(desc(deploymentEvents.id))
    .limit(1);
  if (last && last.kind === kind && last.message === message.slice(0, 4000)) return false;
  await recordEvent(db, deploymentId, kind, message, replicaId);
  return true;
}
