import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deployments, experimentVariants, experiments } from '../../db/schema';
import { DomainError } from '../../core/errors';
import { createExperimentSchema, type CreateExperimentInput } from './schemas';

type Actor = { id: string; role?: string };

/** Creates a draft experiment and its variants in one transaction: a refused one leaves no rows. */
export async function createExperiment(db: Db, actor: Actor, raw: CreateExperimentInput): Promise<{ id: string }> {
  const input = createExperimentSchema.parse(raw);
  return db.transaction(async (tx) => {
    const [clash] = await tx.select({ id: deployments.id }).from(deployments).where(eq(deployments.name, input.name));
    if (clash) throw new DomainError('CONFLICT', `'${input.name}' is already a deployment's name; clients could not tell them apart`);
    const ids = [...new Set(input.variants.map((v) => v.deploymentId))];
    const found = await tx.select({ id: deployments.id }).from(deployments).where(inArray(deployments.id, ids));
    if (found.length !== ids.length) throw new DomainError('BAD_REQUEST', 'variants: a deployment does not exist');
    const [created] = await tx
      .insert(experiments)
      .values({
        name: input.name,
        description: input.description,
        stickiness: input.stickiness,
        startsAt: input.startsAt ?? null,
        endsAt: input.endsAt ?? null,
        createdBy: actor.id,
      })
      .onConflictDoNothing({ target: experiments.name })
      .returning({ id: experiments.id });
    if (!created) throw new DomainError('CONFLICT', `An experiment named ${input.name} already exists`);
    await tx.insert(experimentVariants).values(input.variants.map((v) => ({ ...v, experimentId: created.id })));
    return created;
  });
}

export async function listExperiments(db: Db) {
  const rows = await db.select().from(experiments).orderBy(desc(experiments.createdAt)).limit(500);
  const variants = rows.length
    ? await db
        .select({ v: experimentVariants, deploymentName: deployments.name })
        .from(experimentVariants)
        .innerJoin(deployments, eq(deployments.id, experimentVariants.deploymentId))
        .where(inArray(experimentVariants.experimentId, rows.map((r) => r.id)))
        .orderBy(asc(experimentVariants.label))
    : [];
  return rows.map((e) => ({
    ...e,
    variants: variants.filter((v) => v.v.experimentId === e.id).map((v) => ({ ...v.v, deploymentName: v.deploymentName })),
  }));
}

export async function getExperiment(db: Db, id: string) {
  const [e] = await db.select().from(experiments).where(eq(experiments.id, id));
  if (!e) throw new DomainError('NOT_FOUND', 'No such experiment');
  const variants = await db
    .select({ v: experimentVariants, deploymentName: deployments.name })
    .from(experimentVariants)
    .innerJoin(deployments, eq(deployments.id, experimentVariants.deploymentId))
    .where(eq(experimentVariants.experimentId, id))
    .orderBy(asc(experimentVariants.label));
  return { ...e, variants: variants.map((v) => ({ ...v.v, deploymentName: v.deploymentName })) };
}

/**
 * Moves an experiment between states; the row lock makes two clicks at once land one after the other.
 * Starting, stopping and promoting decide where production traffic goes: the experiment's creator or
 * an admin may, as with every job a person starts (see lifecycle/jobs/access.ts).
 */
async function transition(db: Db, actor: Actor, id: string, allowed: string[], set: Partial<typeof experiments.$inferInsert>, verb: string) {
  return db.transaction(async (tx) => {
    const [row] = await tx.select().from(experiments).where(eq(experiments.id, id)).for('update');
    if (!row) throw new DomainError('NOT_FOUND', 'No such experiment');
    if (actor.role !== 'admin' && row.createdBy !== actor.id) throw new DomainError('FORBIDDEN', 'Only the creator of this experiment or an admin may do this');
    if (!allowed.includes(row.status)) throw new DomainError('CONFLICT', `A ${row.status} experiment cannot be ${verb}`);
    await tx.update(experiments).set(set).where(eq(experiments.id, id));
    return { id };
  });
}

/** Starts routing its name (the gateway picks it up on its next reload, within seconds). */
export function startExperiment(db: Db, actor: Actor, id: string) {
  return transition(db, actor, id, ['draft'], { status: 'running' }, 'started');
}

/** Stops it: from the next reload its name answers 404 like an unknown model. */
export function stopExperiment(db: Db, actor: Actor, id: string) {
  return transition(db, actor, id, ['running'], { status: 'stopped' }, 'stopped');
}

/** Sends all traffic for its name to one variant's deployment. */
export async function promoteVariant(db: Db, actor: Actor, id: string, variantId: string) {
  const [v] = await db
    .select({ id: experimentVariants.id })
    .from(experimentVariants)
    .where(and(eq(experimentVariants.id, variantId), eq(experimentVariants.experimentId, id)));
  if (!v) throw new DomainError('BAD_REQUEST', 'variantId: not a variant of this experiment');
  return transition(db, actor, id, ['running', 'stopped'], { status: 'promoted', winnerVariantId: variantId }, 'promoted');
}
