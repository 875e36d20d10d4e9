import { sql } from 'drizzle-orm';
import type { Db } from './client';

/**
 * What the owner grants the role the app connects as, after every migration (idempotent, and so it
 * covers tables a migration just added): rows of every table, but on audit_log only SELECT and INSERT.
 * Without UPDATE, DELETE, TRUNCATE or TRIGGER, and without owning the table, the app cannot rewrite
 * the audit log nor switch its append-only trigger off, whatever a bug or an injected query tries.
 */
export async function grantAppRole(owner: Db, appRole: string): Promise<void> {
  const role = sql.identifier(appRole);
  await owner.transaction(async (tx) => {
    await tx.execute(sql`GRANT USAGE ON SCHEMA public TO ${role}`);
    await tx.execute(sql`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await tx.execute(sql`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    await tx.execute(sql`REVOKE ALL ON audit_log FROM ${role}`);
    await tx.execute(sql`GRANT SELECT, INSERT ON audit_log TO ${role}`);
    // Creating a request_logs partition needs the table's owner: this function runs as the owner.
    await tx.execute(sql`GRANT EXECUTE ON FUNCTION enclave_request_log_partition(date) TO ${role}`);
    // audit_log's months (migration 0020) are reached only through audit_log: the grant on all tables
    // above covered them, so it is taken back from each. Adding a month, and dropping one past 180 days
    // once its archive is recorded, go through functions that run as the owner and check just that.
    const parts = await tx.execute<{ name: string }>(sql`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_log'::regclass`);
    for (const { name } of parts.rows) await tx.execute(sql`REVOKE ALL ON ${sql.identifier(name)} FROM ${role}`);
    await tx.execute(sql`GRANT EXECUTE ON FUNCTION enclave_audit_log_partition(date) TO ${role}`);
    await tx.execute(sql`GRANT EXECUTE ON FUNCTION enclave_audit_log_drop_partition(text) TO ${role}`);
  });
}

export interface DatabaseIdentity {
  role: string;
  database: string;
}

export async function databaseIdentity(db: Db): Promise<DatabaseIdentity> {
  const result = await db.execute<{ role: string; database: string }>(sql`SELECT current_user AS role, current_database() AS database`);
  return result.rows[0]!;
}

/**
 * What the app's own connection could do to erase audit rows. Said at start: the checkpoints detect
 * an erased tail, but only a role without these powers prevents it.
 */
export async function auditLogPowers(db: Db): Promise<{ role: string; powers: string[] }> {
  const result = await db.execute<{ role: string; superuser: boolean; owner: boolean; update: boolean; delete: boolean; truncate: boolean }>(sql`
    SELECT current_user AS role,
      (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
      pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'audit_log'::regclass), 'USAGE') AS owner,
      has_table_privilege('audit_log', 'UPDATE') AS update,
      has_table_privilege('audit_log', 'DELETE') AS delete,
      has_table_privilege('audit_log', 'TRUNCATE') AS truncate`);
  const row = result.rows[0]!;
  const powers = row.superuser
    ? ['is a superuser']
    : [
        ...(row.owner ? ['owns audit_log (it can disable its trigger)'] : []),
        ...(['update', 'delete', 'truncate'] as const).filter((p) => row[p]).map((p) => `may ${p.toUpperCase()} audit_log`),
      ];
  return { role: row.role, powers };
}

export function auditLogPowersWarning({ role, powers }: { role: string; powers: string[] }): string | undefined {
  if (!powers.length) return undefined;
  return (
    `The app connects to PostgreSQL as ${role}, which ${powers.join(', ')}: it could erase audit rows (the audit checkpoints would detect it, not prevent it). ` +
    'Set DATABASE_OWNER_URL to the role that owns the tables (migrations run through it) and DATABASE_URL to a login role that does not own them.'
  );
}
