import { sql } from 'drizzle-orm';
import { check, integer, pgTable, primaryKey, smallint, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { users } from './identity';

/** What a retention policy deletes: conversations (by last activity) and datasets (by upload). */
export const RETENTION_SUBJECT_KINDS = ['conversation', 'dataset'] as const;
export type RetentionSubjectKind = (typeof RETENTION_SUBJECT_KINDS)[number];

/**
 * How long content of one classification level is kept (issue 13, part 3). `keep_days` null: kept
 * forever; a level without a row is kept forever too, so nothing is deleted until an admin says so.
 */
export const retentionPolicies = pgTable(
  'retention_policies',
  {
    subjectKind: text('subject_kind').notNull().$type<RetentionSubjectKind>(),
    /** Index into the classification levels (0 public … 3 restricted). */
    level: smallint('level').notNull(),
    keepDays: integer('keep_days'),
    updatedBy: uuid('updated_by').references(() => users.id, { onDelete: 'set null' }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.subjectKind, t.level] }),
    check('retention_policies_subject_kind', sql`${t.subjectKind} IN ('conversation', 'dataset')`),
    check('retention_policies_level', sql`${t.level} BETWEEN 0 AND 3`),
    check('retention_policies_keep_days', sql`${t.keepDays} IS NULL OR ${t.keepDays} BETWEEN 1 AND 36500`),
  ],
);

export const LEGAL_HOLD_SUBJECT_KINDS = ['user', 'conversation'] as const;
export type LegalHoldSubjectKind = (typeof LEGAL_HOLD_SUBJECT_KINDS)[number];

/**
 * A legal hold suspends every deletion of its subject (retention, erasure, the owner's own delete) until
 * an admin lifts it. Lifted holds stay as history; at most one active hold per subject. A trigger
 * (migration 0019) refuses deleting a held user, conversation, or a held user's conversations and datasets.
 */
export const legalHolds = pgTable(
  'legal_holds',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    subjectKind: text('subject_kind').notNull().$type<LegalHoldSubjectKind>(),
    /** users.id or conversations.id (no foreign key: the hold must outlive nothing, and it names either). */
    subjectId: uuid('subject_id').notNull(),
    /** Why (a case or matter reference): shown to whoever is refused. Never content. */
    reason: text('reason').notNull(),
    placedBy: uuid('placed_by').references(() => users.id, { onDelete: 'set null' }),
    placedAt: timestamp('placed_at', { withTimezone: true }).notNull().defaultNow(),
    liftedBy: uuid('lifted_by').references(() => users.id, { onDelete: 'set null' }),
    liftedAt: timestamp('lifted_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('legal_holds_active_unique').on(t.subjectKind, t.subjectId).where(sql`${t.liftedAt} IS NULL`),
    check('legal_holds_subject_kind', sql`${t.subjectKind} IN ('user', 'conversation')`),
    check('legal_holds_reason', sql`length(${t.reason}) BETWEEN 1 AND 500`),
  ],
);
