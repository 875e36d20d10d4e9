import { sql } from 'drizzle-orm';
import type { Db } from './client';

const DAY_MS = 86_400_000;

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * Creates the daily request_logs partitions from yesterday to `daysAhead` days ahead. Run at start and
 * daily by maintenance; rows outside them fall into the default partition, so an insert never fails.
 */
export async function ensureRequestLogPartitions(db: Db, now = new Date(), daysAhead = 7): Promise<void> {
  for (let i = -1; i <= daysAhead; i++) {
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + i * DAY_MS);
    // A partition overlapping rows already in the default partition cannot be attached; skip that day.
    // The function (migration 0009) runs as the table's owner, so an app role that does not own it can call it.
    await db.execute(sql`SELECT enclave_request_log_partition(${day(from)}::date)`).catch(() => {});
  }
}
