import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { Db } from './client';
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
