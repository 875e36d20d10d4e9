import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client';

/** Samples younger than this keep the writer's 15 s resolution (the hour and day charts need it). */
export const FULL_RESOLUTION_DAYS = 7;
/** Older samples are merged into one row per GPU per this many minutes: 4 divides the 12 and 84 min chart buckets. */
export const THINNED_BUCKET_MINUTES = 4;
/** Samples older than this are deleted: the longest chart is a week, and alerts read minutes. */
export const RETENTION_DAYS = 30;

/**
 * Keeps gpu_samples from growing by ~6 000 rows per GPU per day forever. Past FULL_RESOLUTION_DAYS,
 * each GPU's samples in a 4-minute bucket become one row (the bucket's first, so re-binning is exact)
 * carrying the same aggregates the charts draw: average utilisation and power, maximum memory and
 * temperature. Past RETENTION_DAYS they go. Run daily; a second run in a day changes nothing.
 */
export async function thinGpuSamples(db: Db, now = new Date()): Promise<{ thinned: number; expired: number }> {
  const cutoff = new Date(now.getTime() - FULL_RESOLUTION_DAYS * 86_400_000);
  const expiry = new Date(now.getTime() - RETENTION_DAYS * 86_400_000);
  return db.transaction(async (tx) => {
    const expired = await tx.execute(sql`delete from gpu_samples where at < ${expiry}`);
    const bucket = sql`date_bin(make_interval(mins => ${THINNED_BUCKET_MINUTES}), at, 'epoch'::timestamptz)`;
    const folded = await tx.execute(sql`
      with agg as (
        select node_id, gpu_index, ${bucket} as b, min(at) as keep_at,
               avg(utilization_pct)::real as u, max(memory_used_mib) as m, max(memory_total_mib) as mt,
               max(temperature_c) as t, avg(power_w)::real as p
        from gpu_samples where at < ${cutoff}
        group by 1, 2, 3 having count(*) > 1
      ), kept as (
        update gpu_samples s set utilization_pct = agg.u, memory_used_mib = agg.m, memory_total_mib = agg.mt, temperature_c = agg.t, power_w = agg.p
        from agg where s.node_id = agg.node_id and s.gpu_index = agg.gpu_index and s.at = agg.keep_at
        returning s.id
      )
      delete from gpu_samples s using agg
      where s.node_id = agg.node_id and s.gpu_index = agg.gpu_index and s.at < ${cutoff}
        and date_bin(make_interval(mins => ${THINNED_BUCKET_MINUTES}), s.at, 'epoch'::timestamptz) = agg.b and s.at <> agg.keep_at
    `);
    return { thinned: folded.rowCount ?? 0, expired: expired.rowCount ?? 0 };
  });
}
