import { sql, type SQL } from 'drizzle-orm';

/**
 * Upper bounds (ms) of usage_daily.e2e_ms_buckets: request i falls in the first bucket whose bound is
 * above its end-to-end time; the last bucket has no bound. Doubling bounds keep a percentile read from
 * them within a factor of two at worst, which a daily trend needs; exact figures live in request_logs
 * (the latency histograms on the same page).
 */
export const E2E_BUCKET_BOUNDS_MS = [250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000] as const;

/** The SQL array of per-bucket counts over request_logs rows aliased `r`. */
export function e2eBucketsSql(): SQL {
  const bounds = [0, ...E2E_BUCKET_BOUNDS_MS];
  const parts = bounds.map((lo, i) => {
    const hi = E2E_BUCKET_BOUNDS_MS[i];
    return hi === undefined ? sql`count(*) FILTER (WHERE r.e2e_ms >= ${sql.raw(String(lo))})::int` : sql`count(*) FILTER (WHERE r.e2e_ms >= ${sql.raw(String(lo))} AND r.e2e_ms < ${sql.raw(String(hi))})::int`;
  });
  return sql`ARRAY[${sql.join(parts, sql`, `)}]::int[]`;
}

/**
 * The q-quantile (0..1) of merged bucket counts, read as the upper bound of the bucket it falls in
 * (the last bucket: its lower bound), so it never understates; null with no requests.
 */
export function quantileFromBuckets(counts: number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total) return null;
  let seen = 0;
  for (const [i, n] of counts.entries()) {
    seen += n;
    if (seen >= q * total) return E2E_BUCKET_BOUNDS_MS[i] ?? E2E_BUCKET_BOUNDS_MS.at(-1)!;
  }
  return E2E_BUCKET_BOUNDS_MS.at(-1)!;
}
