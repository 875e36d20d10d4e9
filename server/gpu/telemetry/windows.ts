import { z } from 'zod';

/** The spans the GPU charts offer, in seconds. */
export const TELEMETRY_WINDOWS = { hour: 3_600, day: 86_400, week: 604_800 } as const;
export type TelemetryWindow = keyof typeof TELEMETRY_WINDOWS;

/** About this many points per GPU per chart: enough for a smooth line, few enough for a phone. */
export const TARGET_BUCKETS = 120;

/** Bucket width for a window: hour → 30 s, day → 12 min, week → 84 min. Never under the 15 s the writer keeps. */
export function bucketSecondsFor(window: TelemetryWindow): number {
  return Math.max(15, Math.ceil(TELEMETRY_WINDOWS[window] / TARGET_BUCKETS));
}

export const gpuSeriesInput = z.object({
  nodeId: z.string().uuid(),
  gpuIndex: z.number().int().min(0).max(1023).optional(),
  window: z.enum(['hour', 'day', 'week']).default('hour'),
});
export type GpuSeriesInput = z.input<typeof gpuSeriesInput>;
