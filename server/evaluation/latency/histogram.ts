import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { E2E_BUCKETS, ITL_BUCKETS, OVERHEAD_BUCKETS, TPOT_BUCKETS, TTFT_BUCKETS } from '../../core/metrics';
import { DomainError } from '../../core/errors';
import { latencyQuerySchema, type LatencyMetric, type LatencyQuery, type LatencyScope } from './schemas';

/** Seconds to ms without float noise (0.075 * 1000 is 75.00000000000001), so a value on a bound lands in it. */
const ms = (s: number) => Math.round(s * 1e7) / 1e4;

/** vLLM's bucket bounds for each metric, in ms (vLLM's are in seconds), so these line up with /metrics. */
export const BUCKETS_MS: Record<LatencyMetric, number[]> = {
  ttft: TTFT_BUCKETS.map(ms),
  itl: ITL_BUCKETS.map(ms),
  tpot: TPOT_BUCKETS.map(ms),
  e2e: E2E_BUCKETS.map(ms),
  overhead: OVERHEAD_BUCKETS.map(ms),
};

export interface LatencySeries {
  /** '' for a single series; a variant id for an experiment's. */
  key: string;
  count: number;
  meanMs: number | null;
  percentiles: { p50: number; p90: number; p95: number; p99: number } | null;
  /** Prometheus-style buckets (v <= le), counts not cumulative; the last has le null (+Inf: JSON has no Infinity). */
  buckets: { le: number | null; count: number }[];
}

const COLUMN: Record<LatencyMetric, string> = { ttft: 'ttft_ms', itl: 'itl_ms', tpot: 'tpot_ms', e2e: 'e2e_ms', overhead: 'overhead_ms' };

/** (series, v) rows for a scope: successful requests only, ITL gaps unnested one row each. */
function source(scope: LatencyScope, metric: LatencyMetric, since: Date): SQL {
  const column = sql.raw(COLUMN[metric]);
  const value = metric === 'itl' ? sql`g.v` : sql`t.${column}`;
  const gaps = metric === 'itl' ? sql`CROSS JOIN LATERAL unnest(t.itl_ms) AS g(v)` : sql``;
  if (scope.kind === 'loadTest') {
    if (metric === 'overhead') throw new DomainError('BAD_REQUEST', 'metric: a load test measures the whole path; gateway overhead comes from request logs');
    return sql`SELECT ''::text AS series, ${value}::float8 AS v FROM load_test_samples t ${gaps} WHERE t.load_test_id = ${scope.id} AND t.error IS NULL`;
  }
  const where =
    scope.kind === 'deployment'
      ? sql`t.deployment_id = ${scope.id}`
      : scope.kind === 'model'
        ? sql`t.model = ${scope.name}`
        : scope.kind === 'variant'
          ? sql`t.variant_id = ${scope.id}`
          : sql`t.experiment_id = ${scope.id}`;
  const series = scope.kind === 'experiment' ? sql`t.variant_id::text` : sql`''::text`;
  return sql`SELECT ${series} AS series, ${value}::float8 AS v FROM request_logs t ${gaps}
    WHERE ${where} AND t.created_at >= ${since.toISOString()} AND t.status < 400`;
}

/**
 * Latency histograms with vLLM's bucket bounds, counted in SQL. width_bucket counts thresholds <= x;
 * Prometheus buckets are "v <= le", i.e. the bucket index is the number of bounds strictly below v,
 * which is n − width_bucket(−v, the negated bounds ascending).
 */
export async function latencyHistogram(db: Db, raw: LatencyQuery): Promise<{ metric: LatencyMetric; boundsMs: number[]; series: LatencySeries[] }> {
  const q = latencyQuerySchema.parse(raw);
  const bounds = BUCKETS_MS[q.metric];
  const negated = bounds.map((b) => -b).reverse();
  const since = new Date(Date.now() - q.hours * 3_600_000);
  const src = source(q.scope, q.metric, since);
  const counts = await db.execute(sql`
    WITH s AS (${src})
    -- Bounds as real first: the columns are real, so a value stored on a bound (0.1 ms) compares equal.
    SELECT series, ${bounds.length}::int - width_bucket(-v, ${`{${negated.join(',')}}`}::real[]::float8[]) AS k, count(*)::int AS n
    FROM s WHERE v IS NOT NULL GROUP BY 1, 2`);
  const summary = await db.execute(sql`
    WITH s AS (${src})
    SELECT series, count(*)::int AS n, avg(v) AS mean,
      percentile_cont(ARRAY[0.5, 0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY v) AS p
    FROM s WHERE v IS NOT NULL GROUP BY 1 ORDER BY 1`);
  const series = summary.rows.map((r): LatencySeries => {
    const p = (r.p as number[] | null)?.map(Number);
    const buckets = [...bounds, null].map((le) => ({ le, count: 0 }));
    for (const c of counts.rows) if (c.series === r.series) buckets[Number(c.k)]!.count = Number(c.n);
    return {
      key: String(r.series),
      count: Number(r.n),
      meanMs: r.mean === null ? null : Number(r.mean),
      percentiles: p ? { p50: p[0]!, p90: p[1]!, p95: p[2]!, p99: p[3]! } : null,
      buckets,
    };
  });
  return { metric: q.metric, boundsMs: bounds, series };
}
