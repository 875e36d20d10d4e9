import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client';

export interface VariantStats {
  variantId: string;
  requests: number;
  /** Answers with status >= 400, except 499 (the client went away). */
  errors: number;
  errorRate: number;
  ttft: { p50: number | null; p95: number | null; p99: number | null };
  e2e: { p50: number | null; p95: number | null; p99: number | null };
  /** Completion tokens per second of generation time, over successful requests. */
  tokensPerSecond: number | null;
  thumbsUp: number;
  thumbsDown: number;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/** Per-variant request and feedback figures of one experiment since `since` (null: all of it). */
export async function variantStats(db: Db, experimentId: string, variantIds: string[], since: Date | null): Promise<VariantStats[]> {
  const from = since ?? new Date(0);
  const logs = await db.execute(sql`
    SELECT variant_id,
      count(*)::int AS requests,
      count(*) FILTER (WHERE status >= 400 AND status <> 499)::int AS errors,
      percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ttft_ms) FILTER (WHERE status < 400) AS ttft,
      percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY e2e_ms) FILTER (WHERE status < 400) AS e2e,
      sum(completion_tokens) FILTER (WHERE status < 400) AS tokens,
      sum(e2e_ms - coalesce(ttft_ms, 0)) FILTER (WHERE status < 400 AND completion_tokens IS NOT NULL) AS gen_ms
    FROM request_logs
    WHERE experiment_id = ${experimentId} AND created_at >= ${from.toISOString()}
    GROUP BY variant_id`);
  const feedback = await db.execute(sql`
    SELECT variant_id, count(*) FILTER (WHERE rating = 1)::int AS up, count(*) FILTER (WHERE rating = -1)::int AS down
    FROM message_feedback WHERE experiment_id = ${experimentId} AND created_at >= ${from.toISOString()}
    GROUP BY variant_id`);
  const byLog = new Map(logs.rows.map((r) => [r.variant_id as string, r]));
  const byFeedback = new Map(feedback.rows.map((r) => [r.variant_id as string, r]));
  return variantIds.map((variantId) => {
    const r = byLog.get(variantId);
    const f = byFeedback.get(variantId);
    const requests = Number(r?.requests ?? 0);
    const errors = Number(r?.errors ?? 0);
    const ttft = (r?.ttft as number[] | null) ?? [null, null, null];
    const e2e = (r?.e2e as number[] | null) ?? [null, null, null];
    const genMs = num(r?.gen_ms);
    const tokens = num(r?.tokens);
    return {
      variantId,
      requests,
      errors,
      errorRate: requests ? errors / requests : 0,
      ttft: { p50: num(ttft[0]), p95: num(ttft[1]), p99: num(ttft[2]) },
      e2e: { p50: num(e2e[0]), p95: num(e2e[1]), p99: num(e2e[2]) },
      tokensPerSecond: genMs && tokens !== null && genMs > 0 ? (tokens * 1000) / genMs : null,
      thumbsUp: Number(f?.up ?? 0),
      thumbsDown: Number(f?.down ?? 0),
    };
  });
}

/** Latency samples per variant for the rank test: the most recent successful requests, at most `limit` each. */
export async function latencySamples(db: Db, experimentId: string, since: Date | null, metric: 'e2e_ms' | 'ttft_ms', limit = 5000) {
  const from = (since ?? new Date(0)).toISOString();
  const column = sql.raw(metric);
  const res = await db.execute(sql`
    SELECT variant_id, array_agg(v) AS values FROM (
      SELECT variant_id, ${column} AS v, row_number() OVER (PARTITION BY variant_id ORDER BY created_at DESC) AS k
      FROM request_logs
      WHERE experiment_id = ${experimentId} AND created_at >= ${from} AND status < 400 AND ${column} IS NOT NULL
    ) s WHERE k <= ${limit} GROUP BY variant_id`);
  return new Map(res.rows.map((r) => [r.variant_id as string, (r.values as number[]).map(Number)]));
}
