import { and, asc, eq, gte, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { gpuNodes, gpuSamples, gpus } from '../../db/schema';
import { DomainError } from '../../core/errors';
import { allocationIntervals, allocatedMiBPerBucket, type AllocationInterval } from './allocations';
import { bucketSecondsFor, gpuSeriesInput, TELEMETRY_WINDOWS, type GpuSeriesInput } from './windows';

export interface GpuSeriesPoint {
  /** Bucket start, epoch ms. */
  at: number;
  utilizationPct: number | null;
  memoryUsedMiB: number | null;
  memoryAllocatedMiB: number;
  temperatureC: number | null;
  powerW: number | null;
}

export interface GpuSeries {
  index: number;
  name: string | null;
  memoryTotalMiB: number | null;
  points: GpuSeriesPoint[];
}

export interface NodeSeries {
  node: { id: string; name: string; status: string; lastHeartbeatAt: Date | null };
  window: keyof typeof TELEMETRY_WINDOWS;
  bucketSeconds: number;
  from: number;
  to: number;
  gpus: GpuSeries[];
  allocations: AllocationInterval[];
}

/** Samples merged into one bucket: utilisation and power averaged, memory and temperature as maxima. */
export const sampleAggregates = {
  utilizationPct: sql<number | null>`avg(${gpuSamples.utilizationPct})::real`,
  memoryUsedMiB: sql<number | null>`max(${gpuSamples.memoryUsedMiB})`,
  temperatureC: sql<number | null>`max(${gpuSamples.temperatureC})`,
  powerW: sql<number | null>`avg(${gpuSamples.powerW})::real`,
};

/**
 * One node's GPUs over the last hour, day or week, downsampled in SQL with date_bin into ~120
 * buckets: utilisation and power averaged (what the GPU did), memory and temperature as maxima (a
 * peak is what runs out of memory or throttles, so it must survive the averaging).
 */
export async function gpuSeries(db: Db, raw: GpuSeriesInput, now = new Date()): Promise<NodeSeries> {
  const input = gpuSeriesInput.parse(raw);
  const [node] = await db.select().from(gpuNodes).where(eq(gpuNodes.id, input.nodeId));
  if (!node) throw new DomainError('NOT_FOUND', 'No GPU node with this id');
  const bucketSeconds = bucketSecondsFor(input.window);
  const to = now.getTime();
  // Aligned to the bucket grid so a refresh moves the chart by whole buckets instead of re-averaging every point.
  const from = Math.floor((to - TELEMETRY_WINDOWS[input.window] * 1000) / (bucketSeconds * 1000)) * bucketSeconds * 1000;
  const fromDate = new Date(from);

  const gpuFilter = input.gpuIndex === undefined ? [] : [eq(gpuSamples.gpuIndex, input.gpuIndex)];
  const bucket = sql`date_bin(make_interval(secs => ${bucketSeconds}), ${gpuSamples.at}, 'epoch'::timestamptz)`;
  const rows = await db
    .select({
      gpuIndex: gpuSamples.gpuIndex,
      at: sql<string>`${bucket}`.as('bucket_at'),
      ...sampleAggregates,
    })
    .from(gpuSamples)
    .where(and(eq(gpuSamples.nodeId, node.id), gte(gpuSamples.at, fromDate), lte(gpuSamples.at, now), ...gpuFilter))
    .groupBy(gpuSamples.gpuIndex, sql`bucket_at`)
    .orderBy(gpuSamples.gpuIndex, sql`bucket_at`);

  const devices = await db.select().from(gpus).where(eq(gpus.nodeId, node.id)).orderBy(asc(gpus.index));
  const intervals = await allocationIntervals(db, node.id, fromDate, now, input.gpuIndex);
  const indices = new Set<number>([...devices.map((d) => d.index), ...rows.map((r) => r.gpuIndex)]);
  if (input.gpuIndex !== undefined) for (const i of [...indices]) if (i !== input.gpuIndex) indices.delete(i);

  const series: GpuSeries[] = [...indices]
    .sort((a, b) => a - b)
    .map((index) => {
      const device = devices.find((d) => d.index === index);
      const mine = intervals.filter((a) => a.gpuIndex === index);
      const points = rows
        .filter((r) => r.gpuIndex === index)
        .map((r) => {
          const at = new Date(r.at).getTime();
          return {
            at,
            utilizationPct: r.utilizationPct === null ? null : Number(r.utilizationPct),
            memoryUsedMiB: r.memoryUsedMiB === null ? null : Number(r.memoryUsedMiB),
            memoryAllocatedMiB: allocatedMiBPerBucket(mine, at, at + bucketSeconds * 1000),
            temperatureC: r.temperatureC === null ? null : Number(r.temperatureC),
            powerW: r.powerW === null ? null : Number(r.powerW),
          };
        });
      return { index, name: device?.name ?? null, memoryTotalMiB: device?.memoryTotalMiB ?? null, points };
    });

  return {
    node: { id: node.id, name: node.name, status: node.status, lastHeartbeatAt: node.lastHeartbeatAt },
    window: input.window,
    bucketSeconds,
    from,
    to,
    gpus: series,
    allocations: intervals,
  };
}
