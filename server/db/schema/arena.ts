import { boolean, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { conversations } from './chat';
import { users } from './identity';

export const BATTLE_WINNERS = ['a', 'b', 'tie', 'both_bad'] as const;

/** One blind side-by-side comparison: two anonymous models answered the same prompt; one vote. */
export const battles = pgTable(
  'battles',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    /** The conversation holding the prompt and both answers (encrypted like every message). */
    conversationId: uuid('conversation_id').references(() => conversations.id, { onDelete: 'set null' }),
    modelA: text('model_a').notNull(),
    modelB: text('model_b').notNull(),
    winner: text('winner', { enum: BATTLE_WINNERS }),
    /** An answer revealed a model's identity: the vote is kept but left out of ratings. */
    excluded: boolean('excluded').notNull().default(false),
    excludedReason: text('excluded_reason'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    votedAt: timestamp('voted_at', { withTimezone: true }),
  },
  (t) => [index('battles_user_idx').on(t.userId, t.votedAt), index('battles_voted_idx').on(t.votedAt)],
);
