import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema> & { $client: pg.Pool };

/** A pool and its Drizzle handle. Prefer `db()` for the process-wide one; tests create their own. */
export function createDb(url: string, max = 10): Db {
  const pool = new pg.Pool({ connectionString: url, max, idleTimeoutMillis: 30_000 });
  // A dropped connection in the pool must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return drizzle(pool, { schema }) as Db;
}

let shared: Db | undefined;
/** The process-wide database, created on first use from DATABASE_URL (set by start when embedded). */
export function db(): Db {
  if (!shared) {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error('DATABASE_URL is not set: start Enclave with `enclave start` or set it');
    shared = createDb(url);
  }
  return shared;
}

export async function closeDb(): Promise<void> {
  const current = shared;
  shared = undefined;
  await current?.$client.end();
}
