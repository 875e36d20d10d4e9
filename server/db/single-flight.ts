import type { Db } from './client';

/**
 * Runs `fn` only if no other process sharing this database is running the same duty now: a session-level
 * `pg_try_advisory_lock` on a connection of its own, held for as long as `fn` runs. With several workers
 * a scheduled task fires once per tick, but a slow run can still overlap the next tick on another worker
 * (or a stalled job's second delivery): the second one then steps aside ('busy') rather than doing the
 * duty twice. The lock dies with the connection, so a process killed mid-duty holds it no longer.
 */
export async function singleFlight<T>(db: Db, name: string, fn: () => Promise<T>): Promise<T | 'busy'> {
  const client = await db.$client.connect();
  let broken: Error | undefined;
  // A connection lost while held (the database restarted) must not crash the process: the duty runs on
  // without the lock's protection until it ends, and the connection is discarded.
  const lost = (e: Error) => (broken = e);
  client.on('error', lost);
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [name]);
    if (!rows[0]!.locked) return 'busy';
    try {
      return await fn();
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]).catch((e: Error) => (broken = e));
    }
  } finally {
    // A connection whose unlock failed is closed rather than pooled, which releases the lock with it.
    client.off('error', lost);
    client.release(broken);
  }
}
