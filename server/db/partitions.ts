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
    const to = new Date(from.getTime() + DAY_MS);
    const name = `request_logs_${day(from).replaceAll('-', '')}`;
    // A partition overlapping rows already in the default partition cannot be attached; skip that day.
    await db
      .execute(
        sql.raw(
          `CREATE TABLE IF NOT EXISTS "${name}" PARTITION OF "request_logs" FOR VALUES FROM ('${from.toISOString()}') TO ('${to.toISOString()}')`,
        ),
      )
      .catch(() => {});
  }
}
