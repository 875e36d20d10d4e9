import { sql } from 'drizzle-orm';
import type { Db } from './client';

/** One month of audit_log (migration 0020): `audit_log_YYYYMM`, rows with `from <= at < to` (UTC). */
export interface AuditMonth {
  name: string;
  from: Date;
  to: Date;
}

export function auditMonthName(d: Date): string {
  return `audit_log_${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function monthStart(d: Date, add = 0): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1));
}

/**
 * Creates this month's partition and `monthsAhead` more (run at start and hourly by maintenance). A row
 * outside every month falls into audit_log_default, so an audit write never fails for want of one.
 * The function (migration 0020) runs as the table's owner, so an app role that does not own it can call it.
 */
export async function ensureAuditPartitions(db: Db, now = new Date(), monthsAhead = 3): Promise<void> {
  for (let i = 0; i <= monthsAhead; i++) {
    const month = monthStart(now, i).toISOString().slice(0, 10);
    // A month whose rows already sit in the default partition cannot be attached: it stays there, kept.
    await db.execute(sql`SELECT enclave_audit_log_partition(${month}::date)`).catch(() => {});
  }
}

/** The monthly partitions that exist, oldest first (the default partition is never one). */
export async function auditMonths(db: Db): Promise<AuditMonth[]> {
  const res = await db.execute<{ name: string }>(sql`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'audit_log'::regclass AND c.relname ~ '^audit_log_[0-9]{6}$' ORDER BY c.relname`);
  return res.rows.map(({ name }) => {
    const from = new Date(Date.UTC(Number(name.slice(10, 14)), Number(name.slice(14, 16)) - 1, 1));
    return { name, from, to: monthStart(from, 1) };
  });
}

/** Drops one month through the owner's function, which refuses anything younger than 180 days, not the oldest, or not archived in the chain. */
export async function dropAuditMonth(db: Db, name: string): Promise<void> {
  await db.execute(sql`SELECT enclave_audit_log_drop_partition(${name})`);
}
