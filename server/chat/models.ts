import { asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deploymentReplicas, deployments, type Role } from '../db/schema';
import { experimentModels } from '../evaluation/experiments/chat-models';

export interface UsableModel {
  name: string;
  engine: string;
  status: string;
  ready: boolean;
}

/** A deployment's allowed_roles: null means every role. */
export function roleMayUse(allowedRoles: string[] | null, role: Role): boolean {
  return allowedRoles === null || allowedRoles.includes(role);
}

/** The models a role may chat with; ready means at least one replica can take a request now. */
export async function listModelsForRole(db: Db, role: Role): Promise<UsableModel[]> {
  const rows = await db
    .select({
      name: deployments.name,
      engine: deployments.engine,
      status: deployments.status,
      allowedRoles: deployments.allowedRoles,
      replicaStatus: deploymentReplicas.status,
    })
    .from(deployments)
    .leftJoin(deploymentReplicas, eq(deploymentReplicas.deploymentId, deployments.id))
    .orderBy(asc(deployments.name));
  const byName = new Map<string, UsableModel>();
  for (const r of rows) {
    if (!roleMayUse(r.allowedRoles, role)) continue;
    const model = byName.get(r.name) ?? { name: r.name, engine: r.engine, status: r.status, ready: false };
    if (r.replicaStatus === 'ready') model.ready = true;
    byName.set(r.name, model);
  }
  // Running A/B experiments are model names too: the gateway assigns each user an arm.
  return [...byName.values(), ...(await experimentModels(db, role, byName))];
}
