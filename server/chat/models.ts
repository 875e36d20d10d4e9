import { asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deploymentGrants, deploymentReplicas, deployments, type Role } from '../db/schema';
import { groupIdsOf } from '../security/groups/membership';
import { experimentModels } from './experiment-models';
import { userMayUse, type ModelUser } from './model-access';

export interface UsableModel {
  name: string;
  engine: string;
  status: string;
  ready: boolean;
}

/** Each deployment's granted groups (deployments with no grant are absent). */
export async function deploymentGrantMap(db: Db): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const g of await db.select().from(deploymentGrants)) out.set(g.deploymentId, [...(out.get(g.deploymentId) ?? []), g.groupId]);
  return out;
}

/** The models a user may chat with; ready means at least one replica can take a request now. */
export async function listModelsFor(db: Db, user: { id: string; role: Role }): Promise<UsableModel[]> {
  const who: ModelUser = { role: user.role, groups: await groupIdsOf(db, user.id) };
  const [rows, grants] = await Promise.all([
    db
      .select({
        id: deployments.id,
        name: deployments.name,
        engine: deployments.engine,
        status: deployments.status,
        allowedRoles: deployments.allowedRoles,
        replicaStatus: deploymentReplicas.status,
      })
      .from(deployments)
      .leftJoin(deploymentReplicas, eq(deploymentReplicas.deploymentId, deployments.id))
      .orderBy(asc(deployments.name)),
    deploymentGrantMap(db),
  ]);
  const byName = new Map<string, UsableModel>();
  for (const r of rows) {
    if (!userMayUse(r.allowedRoles, grants.get(r.id), who)) continue;
    const model = byName.get(r.name) ?? { name: r.name, engine: r.engine, status: r.status, ready: false };
    if (r.replicaStatus === 'ready') model.ready = true;
    byName.set(r.name, model);
  }
  // Running A/B experiments are model names too: the gateway assigns each user an arm.
  return [...byName.values(), ...(await experimentModels(db, who, grants, byName))];
}
