import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client';
import { deployments, experimentVariants, experiments } from '../db/schema';
import { loadProtectionSettings, policyOf, receivableLevel, type Level } from '../security/classification';
import type { TurnLimit } from '../knowledge/chat-context';

/**
 * The highest level a chat turn to `model` may be given, by the gateway's own rule (receivableLevel of the
 * deployment's data-protection policy, or the default for its engine): the deployment of that name, or,
 * for an experiment, the strictest of the arms a turn may be assigned to (a promoted one: its winner).
 * An unknown name: public only (the gateway refuses the turn anyway). Fallback deployments are held to
 * the turn's level by the gateway itself, which is sent the level of the passages the turn carries.
 */
export async function turnLimit(db: Db, model: string): Promise<TurnLimit> {
  const [settings, named, arms] = await Promise.all([
    loadProtectionSettings(db),
    db.select({ id: deployments.id, engine: deployments.engine }).from(deployments).where(eq(deployments.name, model)),
    db
      .select({ id: deployments.id, engine: deployments.engine, variantId: experimentVariants.id, winner: experiments.winnerVariantId, status: experiments.status })
      .from(experiments)
      .innerJoin(experimentVariants, eq(experimentVariants.experimentId, experiments.id))
      .innerJoin(deployments, eq(deployments.id, experimentVariants.deploymentId))
      .where(and(eq(experiments.name, model), inArray(experiments.status, ['running', 'promoted']))),
  ]);
  const targets = [...named, ...arms.filter((a) => a.status !== 'promoted' || a.winner === a.variantId)];
  if (targets.length === 0) return { model, level: 0 };
  const level = Math.min(...targets.map((d) => receivableLevel(policyOf(settings, d.id, d.engine === 'upstream')))) as Level;
  return { model, level };
}
