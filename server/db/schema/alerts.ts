import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, real, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { bytea } from './chat';
import { users } from './identity';

export const ALERT_KINDS = [
  'gpu_temperature',
  'gpu_memory_pressure',
  'gpu_allocated_idle',
  'agent_silent',
  'replica_restarts',
  'deployment_error_rate',
  'deployment_ttft_p95',
] as const;

/** A rule fires when its condition holds for `duration_seconds`; `scope` narrows it (node, deployment). */
export const alertRules = pgTable('alert_rules', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  kind: text('kind', { enum: ALERT_KINDS }).notNull(),
  threshold: real('threshold').notNull(),
  durationSeconds: integer('duration_seconds').notNull().default(300),
  scope: jsonb('scope').$type<Record<string, string>>().notNull().default({}),
  severity: text('severity', { enum: ['warning', 'critical'] }).notNull().default('warning'),
  enabled: boolean('enabled').notNull().default(true),
  createdBy: uuid('created_by').references(() => users.id),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Where alerts are posted. The URL may carry a token, so it is sealed like messages. */
export const alertWebhooks = pgTable('alert_webhooks', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  urlEnc: bytea('url_enc').notNull(),
  dataKeyId: integer('data_key_id').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** One alert per rule and subject (e.g. node/gpu, deployment) while its condition holds: pending → firing → resolved. */
export const alerts = pgTable(
  'alerts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ruleId: uuid('rule_id').notNull().references(() => alertRules.id, { onDelete: 'cascade' }),
    subject: text('subject').notNull(),
    status: text('status', { enum: ['pending', 'firing', 'resolved'] }).notNull(),
    value: real('value'),
    message: text('message').notNull(),
    pendingSince: timestamp('pending_since', { withTimezone: true }).notNull(),
    firedAt: timestamp('fired_at', { withTimezone: true }),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    notifiedAt: timestamp('notified_at', { withTimezone: true }),
  },
  (t) => [index('alerts_status_idx').on(t.status, t.firedAt), uniqueIndex('alerts_rule_subject_open_uq').on(t.ruleId, t.subject).where(sql`resolved_at IS NULL`)],
);
