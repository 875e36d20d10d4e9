import { index, integer, pgTable, smallint, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { messages } from './chat';
import { deployments } from './fleet';
import { users } from './identity';

export const EXPERIMENT_STATUSES = ['draft', 'running', 'stopped', 'promoted'] as const;

/** An A/B experiment: clients ask for `name` and the gateway assigns a variant (sticky per user or key). */
export const experiments = pgTable('experiments', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** The model name clients pass; it must not collide with a deployment's name. */
  name: text('name').notNull().unique(),
  description: text('description').notNull().default(''),
  status: text('status', { enum: EXPERIMENT_STATUSES }).notNull().default('draft'),
  stickiness: text('stickiness', { enum: ['user', 'key'] }).notNull().default('user'),
  startsAt: timestamp('starts_at', { withTimezone: true }),
  endsAt: timestamp('ends_at', { withTimezone: true }),
  winnerVariantId: uuid('winner_variant_id'),
  createdBy: uuid('created_by').references(() => users.id),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const experimentVariants = pgTable(
  'experiment_variants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    experimentId: uuid('experiment_id').notNull().references(() => experiments.id, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    deploymentId: uuid('deployment_id').notNull().references(() => deployments.id),
    weight: integer('weight').notNull(),
  },
  (t) => [unique('experiment_variants_label_uq').on(t.experimentId, t.label)],
);

/** Thumbs up (1) or down (-1) on an assistant message, tagged with what answered it. */
export const messageFeedback = pgTable(
  'message_feedback',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    messageId: uuid('message_id').notNull().references(() => messages.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    rating: smallint('rating').notNull(),
    model: text('model'),
    deploymentId: uuid('deployment_id'),
    experimentId: uuid('experiment_id'),
    variantId: uuid('variant_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [unique('message_feedback_user_message_uq').on(t.messageId, t.userId), index('message_feedback_variant_idx').on(t.variantId)],
);
