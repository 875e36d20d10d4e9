import { z } from 'zod';
import { deploymentNameSchema } from '../../lifecycle/deployments';

const label = z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, 'letters, digits and . _ -, up to 32');

export const createExperimentSchema = z
  .object({
    /** The model name clients pass: the same rules as a deployment's name, and it must not be one. */
    name: deploymentNameSchema,
    description: z.string().max(2000).default(''),
    stickiness: z.enum(['user', 'key']).default('user'),
    startsAt: z.coerce.date().nullish(),
    endsAt: z.coerce.date().nullish(),
    variants: z
      .array(z.object({ label, deploymentId: z.string().uuid(), weight: z.number().int().min(1).max(10_000) }))
      .min(2, 'an experiment needs at least two variants')
      .max(8),
  })
  .refine((e) => new Set(e.variants.map((v) => v.label.toLowerCase())).size === e.variants.length, { message: 'variant labels must differ', path: ['variants'] })
  .refine((e) => !e.startsAt || !e.endsAt || e.endsAt > e.startsAt, { message: 'must be after startsAt', path: ['endsAt'] });
export type CreateExperimentInput = z.input<typeof createExperimentSchema>;

/** A time window for statistics: the last `hours` (default: since the experiment was created). */
export const windowSchema = z.object({ hours: z.number().positive().max(24 * 366).optional() });

export const feedbackSchema = z.object({ messageId: z.string().uuid(), rating: z.union([z.literal(1), z.literal(-1), z.literal(0)]) });
