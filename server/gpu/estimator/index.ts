export { estimateMemory, estimateSpecSchema, maxSequences, type EstimateSpec, type MemoryEstimate } from './estimate';
export { isGgufModel, readGgufModel, shapeFromGguf, type GgufModel } from './gguf';
export { EstimatorInputError } from './fields';
export { shapeFromHfConfig } from './read-config';
export type { ModelShape } from './shape';
export { kvHeadsPerGpu, parameterCount, weightsPerGpu } from './weights';
export { GiB } from './constants';
