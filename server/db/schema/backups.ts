import { index, jsonb, pgTable, real, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { users } from './identity';

/**
 * Restore drills (server/operations/backup/drill.ts): the row is the truth, written by the process
 * running the drill (phase and progress, then the result); the admin page follows it.
 */
export const backupDrills = pgTable(
  'backup_drills',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    backupId: text('backup_id').notNull(),
    status: text('status', { enum: ['running', 'passed', 'failed'] }).notNull().default('running'),
    phase: text('phase').notNull().default('starting'),
    /** 0..1 */
    progress: real('progress').notNull().default(0),
    startedBy: uuid('started_by').references(() => users.id, { onDelete: 'set null' }),
    /** The drill's report (per-table counts and hashes, decryption and audit chain checks): never content. */
    result: jsonb('result').$type<Record<string, unknown>>(),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('backup_drills_created_idx').on(t.createdAt)],
);
