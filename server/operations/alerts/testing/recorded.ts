import type { Db } from '../../../db/client';
import { gpuNodes, gpuSamples, gpus } from '../../../db/schema';
import { SAMPLE_BUCKET_MS } from '../../../fleet/nodes/heartbeat';
import { parseQueryGpu } from '../../../gpu/nvidia-smi';
import { nvidiaSmiFixture } from '../../../gpu/nvidia-smi/fixtures';
import type { GpuInfo } from '../../../gpu/types';
import type { RecordedSample } from '../types';

/** The real H100 capture (53 °C, 11 125 of 81 559 MiB, 434 W): the baseline every recorded series starts from. */
export const H100_CAPTURE = 'query-gpu/h100-80gb-mig-driver590.csv';
/** The real P100 capture: idle (0 %, 37 °C, 28 W). */
export const P100_CAPTURE = 'query-gpu/tesla-p100-pcie-16gb.csv';

/** A sample as recorded, with the power reading the alert rules do not need but the charts draw. */
export type RecordedReading = RecordedSample & { powerW?: number | null };

export function captured(file = H100_CAPTURE): GpuInfo {
  return parseQueryGpu(nvidiaSmiFixture(file))[0]!;
}

/**
 * A recorded series: the captured reading repeated every 15 s (the heartbeat bucket) from `start`,
 * with `shape` changing what an incident changes (a hot spell, a memory leak, an idle hold).
 * The MIG capture reports no utilisation, so the baseline's busy 60 % stands in when it is null.
 */
export function recordedSeries(
  count: number,
  end: number,
  shape: (i: number, base: RecordedReading) => Partial<RecordedReading> = () => ({}),
  file = H100_CAPTURE,
): RecordedReading[] {
  const g = captured(file);
  const memoryTotalMiB = g.memoryTotalMiB ?? Number(g.extra?.['memory.free'] ?? 0) + (g.memoryUsedMiB ?? 0);
  const lastBucket = Math.floor(end / SAMPLE_BUCKET_MS) * SAMPLE_BUCKET_MS;
  return Array.from({ length: count }, (_, i) => {
    const base: RecordedReading = {
      at: lastBucket - (count - 1 - i) * SAMPLE_BUCKET_MS,
      utilizationPct: g.utilizationPct ?? 60,
      memoryUsedMiB: g.memoryUsedMiB,
      memoryTotalMiB,
      temperatureC: g.temperatureC,
      powerW: g.powerW,
    };
    return { ...base, ...shape(i, base) };
  });
}

/** Writes a node, its GPU and a recorded series into gpu_samples, as the heartbeat writer would have. */
export async function insertRecordedNode(db: Db, name: string, series: Record<number, RecordedReading[]>, lastHeartbeatAt = new Date()) {
  const [node] = await db.insert(gpuNodes).values({ name, lastHeartbeatAt, driverVersion: '590.48.01', cudaVersion: '13.1' }).returning();
  const g = captured();
  for (const [index, samples] of Object.entries(series)) {
    await db.insert(gpus).values({ nodeId: node!.id, index: Number(index), name: g.name ?? 'GPU', uuid: null, memoryTotalMiB: samples[0]?.memoryTotalMiB ?? null });
    for (let i = 0; i < samples.length; i += 500) {
      await db.insert(gpuSamples).values(
        samples.slice(i, i + 500).map((s) => ({
          nodeId: node!.id,
          gpuIndex: Number(index),
          at: new Date(s.at),
          utilizationPct: s.utilizationPct,
          memoryUsedMiB: s.memoryUsedMiB,
          memoryTotalMiB: s.memoryTotalMiB,
          temperatureC: s.temperatureC,
          powerW: s.powerW === undefined ? g.powerW : s.powerW,
        })),
      );
    }
  }
  return node!;
}
