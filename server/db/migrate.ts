import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { createDb, type Db } from './client';
import { databaseIdentity, grantAppRole } from './app-role';
import { ensureRequestLogPartitions } from './partitions';

const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Applies the committed migrations (idempotent; Drizzle serialises concurrent runs with a lock table). */
export async function applyMigrations(db: Db): Promise<void> {
  // Two roles starting at once must not both run the same migration.
  const client = await db.$client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(727001)');
    await migrate(db, { migrationsFolder });
    await ensureRequestLogPartitions(db);
  } finally {
    await client.query('SELECT pg_advisory_unlock(727001)').catch(() => {});
    client.release();
  }
}

/**
 * Migrates the app's database. With an owner URL, the owner applies the migrations and then grants the
 * app's role what it needs (see grantAppRole); without one, the app's own connection migrates.
 */
export async function migrateDatabase(appDb: Db, ownerUrl?: string): Promise<void> {
  if (!ownerUrl) return applyMigrations(appDb);
  // Two connections: applyMigrations holds one for its lock while Drizzle migrates on the other.
  const owner = createDb(ownerUrl, 2);
  try {
    const [app, own] = await Promise.all([databaseIdentity(appDb), databaseIdentity(owner)]);
    if (app.database !== own.database) {
      throw new Error(`DATABASE_OWNER_URL reaches database ${own.database} but DATABASE_URL reaches ${app.database}: they must name the same database`);
    }
    await applyMigrations(owner);
    if (app.role !== own.role) await grantAppRole(owner, app.role);
  } finally {
    await owner.$client.end().catch(() => {});
  }
}
