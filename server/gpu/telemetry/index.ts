export { gpuSeries, type GpuSeries, type GpuSeriesPoint, type NodeSeries } from './series';
export { allocationIntervals, allocatedMiBPerBucket, type AllocationInterval } from './allocations';
export { bucketSecondsFor, gpuSeriesInput, TARGET_BUCKETS, TELEMETRY_WINDOWS, type TelemetryWindow } from './windows';
