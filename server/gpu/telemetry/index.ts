export { gpuSeries, type GpuSeries, type GpuSeriesPoint, type NodeSeries } from './series';
export { allocationIntervals, allocatedMiBPerBucket, type AllocationInterval } from './allocations';
export { bucketSecondsFor, gpuSeriesInput, TARGET_BUCKETS, TELEMETRY_WINDOWS, type TelemetryWindow } from './windows';
export { FULL_RESOLUTION_DAYS, RETENTION_DAYS, thinGpuSamples } from './retention';
