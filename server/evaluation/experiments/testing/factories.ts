import { randomBytes } from 'node:crypto';
import type { Db } from '../../../db/client';
import { experimentVariants, experiments } from '../../../db/schema';

/** Inserts an experiment and its variants as given (tests only: the service validates, this does not). */
export async function makeExperiment(
  db: Db,
  over: Partial<typeof experiments.$inferInsert>,
  variants: { label: string; deploymentId: string; weight: number }[],
) {
  const [e] = await db
    .insert(experiments)
    .values({ name: `exp-${randomBytes(3).toString('hex')}`, status: 'running', ...over })
    .returning();
  const vs = await db
    .insert(experimentVariants)
    .values(variants.map((v) => ({ ...v, experimentId: e!.id })))
    .returning();
  return { experiment: e!, variants: vs.sort((a, b) => a.label.localeCompare(b.label)) };
}
