import { integer, pgTable, timestamp } from 'drizzle-orm/pg-core';

/**
 * The hours whose /v1 calls are already summed into the audit chain (one `gateway.v1_calls` row per key
 * per hour, server/security/audit-v1-calls.ts), so a rerun never writes an hour twice.
 */
export const auditV1Hours = pgTable('audit_v1_hours', {
  hour: timestamp('hour', { withTimezone: true }).primaryKey(),
  keys: integer('keys').notNull(),
  writtenAt: timestamp('written_at', { withTimezone: true }).notNull().defaultNow(),
});
