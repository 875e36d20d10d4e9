import type { Db } from '../db/client';

/** audit_log and its monthly partitions (each carries its own TRUNCATE refusal). */
async function auditTables(db: Db): Promise<string[]> {
  const { rows } = await db.$client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_log'::regclass`,
  );
  return ['audit_log', ...rows.map((r) => r.name)];
}

/**
 * What a superuser (the app's role on a default install) can do to the audit log: switch its
 * append-only triggers off, change rows, switch them back on. For tests of what verification notices.
 */
export async function tamperWithAuditLog(db: Db, statement: string, params: unknown[] = []): Promise<void> {
  const tables = await auditTables(db);
  for (const t of tables) await db.$client.query(`ALTER TABLE "${t}" DISABLE TRIGGER USER`);
  try {
    await db.$client.query(statement, params);
  } finally {
    for (const t of tables) await db.$client.query(`ALTER TABLE "${t}" ENABLE TRIGGER USER`);
  }
}
