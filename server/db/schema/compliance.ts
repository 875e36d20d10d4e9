import { bigserial, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;

/** Append-only (a trigger refuses UPDATE and DELETE) and hash-chained: each row's hash covers the previous one. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actorUserId: uuid('actor_user_id'),
    /** Email or key name at the time, kept even if the user is deleted later. */
    actorLabel: text('actor_label'),
    action: text('action').notNull(),
    target: text('target'),
    clientAddress: text('client_address'),
    outcome: text('outcome', { enum: AUDIT_OUTCOMES }).notNull(),
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({}),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [index('audit_log_actor_idx').on(t.actorUserId, t.at), index('audit_log_action_idx').on(t.action, t.at)],
);
