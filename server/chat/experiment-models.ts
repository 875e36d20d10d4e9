import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deployments, experimentVariants, experiments } from '../db/schema';
import { userMayUse, type ModelUser } from './model-access';

interface Usable {
  name: string;
  engine: string;
  status: string;
  ready: boolean;
}

/**
 * Experiments the chat can offer as models: running inside their window (or promoted), every arm a
 * deployment the user may use (role and group grants: else some users would be assigned an arm the gateway refuses them), and
 * ready when any arm is.
 */
export async function experimentModels(db: Db, user: ModelUser, grants: ReadonlyMap<string, string[]>, deploymentModels: ReadonlyMap<string, Usable>): Promise<Usable[]> {
  const rows = await db
    .select({ e: experiments, deploymentId: deployments.id, deploymentName: deployments.name, allowedRoles: deployments.allowedRoles, variantId: experimentVariants.id })
    .from(experiments)
    .innerJoin(experimentVariants, eq(experimentVariants.experimentId, experiments.id))
    .innerJoin(deployments, eq(deployments.id, experimentVariants.deploymentId))
    .where(inArray(experiments.status, ['running', 'promoted']));
  const now = Date.now();
  const out = new Map<string, Usable & { allowed: boolean }>();
  for (const r of rows) {
    const e = r.e;
    if (e.status === 'running' && ((e.startsAt && e.startsAt.getTime() > now) || (e.endsAt && e.endsAt.getTime() <= now))) continue;
    if (e.status === 'promoted' && e.winnerVariantId !== r.variantId) continue;
    const m = out.get(e.name) ?? { name: e.name, engine: 'experiment', status: e.status, ready: false, allowed: true };
    if (!userMayUse(r.allowedRoles, grants.get(r.deploymentId), user)) m.allowed = false;
    if (deploymentModels.get(r.deploymentName)?.ready) m.ready = true;
    out.set(e.name, m);
  }
  return [...out.values()].filter((m) => m.allowed).map(({ allowed: _allowed, ...m }) => m);
}
