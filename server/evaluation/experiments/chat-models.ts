import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deployments, experimentVariants, experiments, type Role } from '../../db/schema';

interface Usable {
  name: string;
  engine: string;
  status: string;
  ready: boolean;
}

/**
 * Experiments the chat can offer as models: running inside their window (or promoted), every arm a
 * deployment the role may use (else some users would be assigned an arm the gateway refuses them), and
 * ready when any arm is.
 */
export async function experimentModels(db: Db, role: Role, deploymentModels: ReadonlyMap<string, Usable>): Promise<Usable[]> {
  const rows = await db
    .select({ e: experiments, deploymentName: deployments.name, allowedRoles: deployments.allowedRoles, variantId: experimentVariants.id })
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
    if (r.allowedRoles && !r.allowedRoles.includes(role)) m.allowed = false;
    if (deploymentModels.get(r.deploymentName)?.ready) m.ready = true;
    out.set(e.name, m);
  }
  return [...out.values()].filter((m) => m.allowed).map(({ allowed: _allowed, ...m }) => m);
}
