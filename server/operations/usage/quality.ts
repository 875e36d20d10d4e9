import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { quantileFromBuckets } from './latency-buckets';
import type { UsageRange } from './report';

/** One model's day: how many requests, how many failed (status 400 or more), and how long they took. */
export interface ModelDayQuality {
  day: string;
  model: string;
  requests: number;
  errors: number;
  /** errors / requests (0..1). */
  failureRate: number;
  meanE2eMs: number | null;
  meanTtftMs: number | null;
  /** Read from the day's latency buckets: the bucket bound the percentile falls under. */
  p50E2eMs: number | null;
  p95E2eMs: number | null;
}

type Row = { day: string; model: string; requests: number; errors: number; e2e_ms_sum: number; ttft_ms_sum: number; ttft_count: number; e2e_ms_buckets: number[] };

/**
 * The failure-rate and response-time view (the /latency page): per model and UTC day, from the daily
 * rollup, so a year of days reads a few thousand rows. Bucket counts of every user, key and deployment
 * of a model are summed before percentiles are read from them.
 */
export async function qualityByModelDay(db: Db, range: UsageRange): Promise<ModelDayQuality[]> {
  const res = await db.execute<Row>(sql`
    SELECT u.day::text AS day, u.model, u.requests, u.errors, u.e2e_ms_sum, u.ttft_ms_sum, u.ttft_count, u.e2e_ms_buckets
    FROM usage_daily u WHERE u.day BETWEEN ${range.from}::date AND ${range.to}::date`);
  const groups = new Map<string, { day: string; model: string; requests: number; errors: number; e2e: number; ttft: number; ttftCount: number; buckets: number[] }>();
  for (const r of res.rows) {
    const key = `${r.day}\u0000${r.model}`;
    const g = groups.get(key) ?? { day: r.day, model: r.model, requests: 0, errors: 0, e2e: 0, ttft: 0, ttftCount: 0, buckets: [] };
    g.requests += r.requests;
    g.errors += r.errors;
    g.e2e += Number(r.e2e_ms_sum);
    g.ttft += Number(r.ttft_ms_sum);
    g.ttftCount += r.ttft_count;
    r.e2e_ms_buckets.forEach((n, i) => (g.buckets[i] = (g.buckets[i] ?? 0) + n));
    groups.set(key, g);
  }
  return [...groups.values()]
    .sort((a, b) => (a.day === b.day ? a.model.localeCompare(b.model) : a.day < b.day ? -1 : 1))
    .map((g) => ({
      day: g.day,
      model: g.model,
      requests: g.requests,
      errors: g.errors,
      failureRate: g.requests ? g.errors / g.requests : 0,
      meanE2eMs: g.requests ? g.e2e / g.requests : null,
      meanTtftMs: g.ttftCount ? g.ttft / g.ttftCount : null,
      // Rows rolled up before the buckets existed have none: no percentile rather than a wrong one.
      p50E2eMs: g.buckets.length ? quantileFromBuckets(g.buckets, 0.5) : null,
      p95E2eMs: g.buckets.length ? quantileFromBuckets(g.buckets, 0.95) : null,
    }));
}
