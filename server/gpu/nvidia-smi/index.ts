export { isMissing, MISSING_MARKERS, NvidiaSmiParseError } from './csv';
export { hostVersions, INVENTORY_QUERY_FIELDS, parseQueryGpu, type ParseQueryGpuOptions } from './query-gpu';
export { COMPUTE_APPS_FIELDS, parseComputeApps } from './compute-apps';
export { gpuLinks, parseTopology } from './topology';
