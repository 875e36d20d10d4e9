import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { gpuNodes, gpuSamples } from '../../db/schema';
import type { GpuInfo } from '../../gpu/types';
import type { HostStats } from '../host/host-stats';

/** gpu_samples keeps one row per GPU per bucket of this length. */
export const SAMPLE_BUCKET_MS = 15_000;

export function sampleBucket(at: Date): Date {
  return new Date(Math.floor(at.getTime() / SAMPLE_BUCKET_MS) * SAMPLE_BUCKET_MS);
}

export class UnknownNodeError extends Error {}

/**
 * A heartbeat: the node is alive (healthy again if the sweep had marked it), here is a GPU sample and
 * (from agents that report it: older ones do not) the host's CPU, memory and disk, kept as the latest.
 * Samples are downsampled as they are written: within a 15 s bucket the row keeps the MAXIMUM of
 * utilisation, memory used, temperature and power (a peak must not vanish between two quiet readings;
 * GREATEST ignores nulls, so a missing value never erases a known one). A draining node stays draining.
 */
export async function recordHeartbeat(db: Db, nodeName: string, sample: GpuInfo[], at = new Date(), host?: HostStats | null): Promise<void> {
  await db.transaction(async (tx) => {
    const [node] = await tx
      .update(gpuNodes)
      .set({ lastHeartbeatAt: at, status: sql`CASE WHEN ${gpuNodes.status} = 'draining' THEN 'draining' ELSE 'healthy' END`, ...(host ? { host, hostAt: at } : {}) })
      .where(eq(gpuNodes.name, nodeName))
      .returning({ id: gpuNodes.id });
    if (!node) throw new UnknownNodeError(`No node named ${nodeName} is registered`);
    if (!sample.length) return;
    const bucket = sampleBucket(at);
    const rows = sample.map((g) => ({
      nodeId: node.id,
      gpuIndex: g.index,
      at: bucket,
      utilizationPct: g.utilizationPct,
      memoryUsedMiB: g.memoryUsedMiB,
      memoryTotalMiB: g.memoryTotalMiB,
      temperatureC: g.temperatureC,
      powerW: g.powerW,
    }));
    const greatest = (column: string) => sql.raw(`GREATEST(gpu_samples.${column}, excluded.${column})`);
    await tx
      .insert(gpuSamples)
      .values(rows)
      .onConflictDoUpdate({
        target: [gpuSamples.nodeId, gpuSamples.gpuIndex, gpuSamples.at],
        set: {
          utilizationPct: greatest('utilization_pct'),
          memoryUsedMiB: greatest('memory_used_mib'),
          temperatureC: greatest('temperature_c'),
          powerW: greatest('power_w'),
          memoryTotalMiB: sql.raw('COALESCE(excluded.memory_total_mib, gpu_samples.memory_total_mib)'),
        },
      });
  });
}
