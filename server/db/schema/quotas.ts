import { sql } from 'drizzle-orm';
import { bigint, check, integer, numeric, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { deployments } from './fleet';

/**
 * Who a quota row applies to. `default_user` / `default_key` (subject_id null) apply to every user / key
 * without a row of their own; `user` / `key` rows replace the default for that one subject, whole (a null
 * limit in an override means "no limit", not "the default's"). `group` is reserved for groups (issue 12,
 * part 4): rows may be stored, nothing enforces them yet.
 */
export const QUOTA_SUBJECT_KINDS = ['default_user', 'default_key', 'user', 'key', 'group'] as const;
export type QuotaSubjectKind = (typeof QUOTA_SUBJECT_KINDS)[number];

export const quotas = pgTable(
  'quotas',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    subjectKind: text('subject_kind').notNull().$type<QuotaSubjectKind>(),
    /** users.id, api_keys.id or a group's id; null for the two defaults. */
    subjectId: uuid('subject_id'),
    /** Each limit null: none. */
    requestsPerMinute: integer('requests_per_minute'),
    tokensPerDay: bigint('tokens_per_day', { mode: 'number' }),
    tokensPerMonth: bigint('tokens_per_month', { mode: 'number' }),
    maxConcurrent: integer('max_concurrent'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('quotas_subject_unique').on(t.subjectKind, t.subjectId).nullsNotDistinct(),
    check('quotas_subject_kind', sql`${t.subjectKind} IN ('default_user', 'default_key', 'user', 'key', 'group')`),
    check('quotas_subject_id', sql`(${t.subjectKind} LIKE 'default_%') = (${t.subjectId} IS NULL)`),
    check(
      'quotas_limits_positive',
      sql`coalesce(${t.requestsPerMinute}, 1) > 0 AND coalesce(${t.tokensPerDay}, 1) > 0 AND coalesce(${t.tokensPerMonth}, 1) > 0 AND coalesce(${t.maxConcurrent}, 1) > 0`,
    ),
  ],
);

/** Optional price of a deployment's tokens, so usage also shows cost. */
export const deploymentPrices = pgTable('deployment_prices', {
  deploymentId: uuid('deployment_id')
    .primaryKey()
    .references(() => deployments.id, { onDelete: 'cascade' }),
  /** Per million prompt / completion tokens, in `currency`. */
  promptPerMillion: numeric('prompt_per_million', { precision: 14, scale: 6, mode: 'number' }).notNull().default(0),
  completionPerMillion: numeric('completion_per_million', { precision: 14, scale: 6, mode: 'number' }).notNull().default(0),
  currency: text('currency').notNull().default('USD'),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
