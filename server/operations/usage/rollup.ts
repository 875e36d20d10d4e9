import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { e2eBucketsSql } from './latency-buckets';

const DAY_MS = 86_400_000;
/** How far back a first rollup reaches into request_logs. */
const BACKFILL_DAYS = 400;
/** After midnight (UTC), yesterday is rolled up again for this long: rows the gateways flushed late. */
const LATE_ROWS_MS = 3_600_000;

function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function addDays(day: string, n: number): string {
  return utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS));
}

/**
 * Rebuilds one UTC day of usage_daily from request_logs, in one transaction: the day's rows are upserted
 * from the day's partition (the range prunes every other) and any group no longer there is removed, so
 * re-running gives the same rows. Cost comes from deployment_prices as it is now.
 */
export async function rollUpDay(db: Db, day: string): Promise<number> {
  return db.transaction(async (tx) => {
    const rolled = await tx.execute(sql`
      INSERT INTO usage_daily AS u (day, user_id, api_key_id, model, deployment_id, requests, errors, prompt_tokens, completion_tokens, cost, currency, rolled_up_at,
                                    e2e_ms_sum, ttft_ms_sum, ttft_count, e2e_ms_buckets)
      SELECT ${day}::date, g.user_id, g.api_key_id, g.model, g.deployment_id, g.requests, g.errors, g.prompt_tokens, g.completion_tokens,
             CASE WHEN p.deployment_id IS NULL THEN NULL
                  ELSE round((g.prompt_tokens * p.prompt_per_million + g.completion_tokens * p.completion_per_million) / 1000000, 6) END,
             p.currency, now(), g.e2e_ms_sum, g.ttft_ms_sum, g.ttft_count, g.e2e_ms_buckets
      FROM (
        SELECT r.user_id, r.api_key_id, r.model, r.deployment_id, count(*)::int AS requests,
               count(*) FILTER (WHERE r.status >= 400)::int AS errors,
               coalesce(sum(r.prompt_tokens), 0)::bigint AS prompt_tokens,
               coalesce(sum(r.completion_tokens), 0)::bigint AS completion_tokens,
               -- Latency for the failure-rate and response-time view (latency-buckets.ts).
               coalesce(sum(r.e2e_ms), 0)::float8 AS e2e_ms_sum, coalesce(sum(r.ttft_ms), 0)::float8 AS ttft_ms_sum,
               count(r.ttft_ms)::int AS ttft_count, ${e2eBucketsSql()} AS e2e_ms_buckets
        FROM request_logs r
        WHERE r.created_at >= ${day}::date::timestamp AT TIME ZONE 'UTC' AND r.created_at < (${day}::date + 1)::timestamp AT TIME ZONE 'UTC'
        GROUP BY r.user_id, r.api_key_id, r.model, r.deployment_id
      ) g
      LEFT JOIN deployment_prices p ON p.deployment_id = g.deployment_id
      ON CONFLICT (day, user_id, api_key_id, model, deployment_id) DO UPDATE SET
        requests = excluded.requests, errors = excluded.errors, prompt_tokens = excluded.prompt_tokens,
        completion_tokens = excluded.completion_tokens, cost = excluded.cost, currency = excluded.currency, rolled_up_at = excluded.rolled_up_at,
        e2e_ms_sum = excluded.e2e_ms_sum, ttft_ms_sum = excluded.ttft_ms_sum, ttft_count = excluded.ttft_count, e2e_ms_buckets = excluded.e2e_ms_buckets
      RETURNING 1`);
    // Groups rolled up earlier that this run did not touch (their rows were removed) go too.
    await tx.execute(sql`DELETE FROM usage_daily WHERE day = ${day}::date AND rolled_up_at < (SELECT now())`);
    return rolled.rows.length;
  });
}

export interface RollupResult {
  days: string[];
  rows: number;
}

/**
 * The maintenance task: every finished day not yet rolled up (from the last rolled-up day, or on a first
 * run from the oldest request_logs row of the last 400 days), then today's partial day. Yesterday is
 * redone during the first hour after midnight for rows the gateways flushed late.
 */
export async function rollUpUsage(db: Db, now = new Date()): Promise<RollupResult> {
  const today = utcDay(now);
  const last = await db.execute<{ day: string | null }>(sql`SELECT max(day)::text AS day FROM usage_daily WHERE day <= ${today}::date`);
  let from = last.rows[0]?.day ?? null;
  if (!from) {
    const oldest = await db.execute<{ at: Date | string | null }>(
      sql`SELECT min(created_at) AS at FROM request_logs WHERE created_at >= ${new Date(now.getTime() - BACKFILL_DAYS * DAY_MS).toISOString()}::timestamptz`,
    );
    const at = oldest.rows[0]?.at;
    from = at ? utcDay(new Date(at)) : today;
  }
  if (now.getTime() - Date.parse(`${today}T00:00:00Z`) < LATE_ROWS_MS && from > addDays(today, -1)) from = addDays(today, -1);
  const days: string[] = [];
  let rows = 0;
  for (let d = from; d <= today; d = addDays(d, 1)) {
    rows += await rollUpDay(db, d);
    days.push(d);
  }
  return { days, rows };
}
