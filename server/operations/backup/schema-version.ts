import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { Db } from '../../db/client';

/**
 * A schema version is a migration of the journal (its `when` and tag): what Drizzle records in
 * drizzle.__drizzle_migrations as each one is applied.
 */
export interface SchemaVersion {
  when: number;
  tag: string;
}

const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'db', 'migrations');

function journal(): SchemaVersion[] {
  const parsed = JSON.parse(fs.readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: SchemaVersion[] };
  return parsed.entries.map(({ when, tag }) => ({ when, tag }));
}

/** The newest migration this code has. */
export function codeSchemaVersion(): SchemaVersion {
  return journal().at(-1)!;
}

/** The newest migration applied to a database (through a client inside the backup's snapshot). */
export async function appliedSchemaVersion(query: (text: string) => Promise<{ rows: { when: string | null }[] }>): Promise<SchemaVersion> {
  const { rows } = await query('SELECT max(created_at)::text AS "when" FROM drizzle.__drizzle_migrations');
  const when = Number(rows[0]?.when);
  if (!Number.isFinite(when)) throw new Error('The database has no migrations applied: nothing to back up');
  return { when, tag: journal().find((e) => e.when === when)?.tag ?? `unknown (${when})` };
}

/**
 * Applies this code's migrations up to and including `when`, no further: a backup's rows are loaded
 * into the schema they were taken from, and the later migrations then carry them forward as they
 * would have carried the live database.
 */
export async function migrateTo(db: Db, when: number): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder }).filter((m) => m.folderMillis <= when);
  const internals = db as unknown as { dialect: { migrate(m: unknown, s: unknown, c: unknown): Promise<void> }; session: unknown };
  await internals.dialect.migrate(migrations, internals.session, { migrationsFolder });
}
