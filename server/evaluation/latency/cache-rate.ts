import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../../db/client';
import { latencyScopeSchema } from './schemas';

/**
 * How many cacheable requests the gateway's response cache answered, over a window of request logs
 * (request_logs.cache: 'hit' or 'miss'; requests that could not be cached are null and not counted).
 * Shown on the latency page next to the histograms, which include hits: a high rate explains a low TTFT.
 */
export const cacheRateSchema = z.object({
  scope: latencyScopeSchema.refine((s) => s.kind !== 'loadTest', 'scope: a load test has no request logs'),
  hours: z.number().positive().max(24 * 366).default(24),
});

export async function cacheHitRate(db: Db, raw: z.input<typeof cacheRateSchema>): Promise<{ hits: number; misses: number; rate: number | null }> {
  const { scope, hours } = cacheRateSchema.parse(raw);
  const where =
    scope.kind === 'deployment'
      ? sql`deployment_id = ${scope.id}`
      : scope.kind === 'model'
        ? sql`model = ${scope.name}`
        : scope.kind === 'variant'
          ? sql`variant_id = ${scope.id}`
          : scope.kind === 'experiment'
            ? sql`experiment_id = ${scope.id}`
            : sql`false`;
  const since = new Date(Date.now() - hours * 3_600_000).toISOString();
  const res = await db.execute(sql`
    SELECT count(*) FILTER (WHERE cache = 'hit')::int AS hits, count(*) FILTER (WHERE cache = 'miss')::int AS misses
    FROM request_logs WHERE ${where} AND created_at >= ${since} AND cache IS NOT NULL`);
  const hits = Number(res.rows[0]?.hits ?? 0);
  const misses = Number(res.rows[0]?.misses ?? 0);
  return { hits, misses, rate: hits + misses > 0 ? hits / (hits + misses) : null };
}
