import { bigserial, index, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** An audit row to write: what writeAudit takes (security/audit.ts), and what a reply's lease keeps until settled. */
export interface AuditEntry {
  actorUserId?: string | null;
  actorLabel?: string | null;
  action: string;
  target?: string | null;
  clientAddress?: string | null;
  outcome: AuditOutcome;
  detail?: Record<string, unknown>;
}

/**
 * Append-only (a trigger refuses UPDATE and DELETE) and hash-chained: each row's hash covers the previous one.
 * Partitioned by month on `at` (migration 0020): months past retention are archived, then dropped
 * (server/security/audit-archive.ts). `id` alone is unique (one sequence), but the key includes `at`.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).notNull(),
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
  (t) => [
    primaryKey({ name: 'audit_log_id_at_pk', columns: [t.id, t.at] }),
    index('audit_log_actor_idx').on(t.actorUserId, t.id),
    index('audit_log_action_idx').on(t.action, t.id),
    index('audit_log_target_idx').on(t.target, t.id),
    index('audit_log_outcome_idx').on(t.outcome, t.id),
    index('audit_log_actor_label_idx').on(t.actorLabel, t.id),
  ],
);
