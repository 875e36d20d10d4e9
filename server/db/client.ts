import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { inCommitScope, withCommitHooks } from './after-commit';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema> & { $client: pg.Pool };

/** A pool and its Drizzle handle. Prefer `db()` for the process-wide one; tests create their own. */
export function createDb(url: string, max = 10): Db {
  const pool = new pg.Pool({ connectionString: url, max, idleTimeoutMillis: 30_000 });
  // A dropped connection in the pool must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const database = drizzle(pool, { schema }) as Db;
  // Every transaction defers the afterCommit hooks run inside it (announcements to other processes,
  // queued work) to its commit, and drops them if it rolls back, wherever it is opened: told before
  // the commit, a gateway would re-read and cache the old rows. API mutations open their scope
  // earlier (trpc.ts), so their transaction's hooks join it.
  const open = database.transaction.bind(database);
  database.transaction = ((body, config) => (inCommitScope() ? open(body, config) : withCommitHooks(() => open(body, config)))) as Db['transaction'];
  return database;
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
