/**
 * The fleet API's answers as the UI reads them (the contract of server/api/routers/{catalog,deployments,fleet}).
 * Dates arrive as strings over JSON (tRPC has no transformer here), so both are accepted.
 */
export type When = string | Date;

export interface ModelVersionView {
  id: string;
  version: string;
  format: 'hf' | 'gguf' | 'lora-adapter' | string;
  dtype: string | null;
  quantization: string | null;
  location: string;
  sizeBytes: number | null;
  sha256: string | null;
  parentVersionId: string | null;
  createdAt: When;
}

export interface ModelView {
  id: string;
  name: string;
  description: string | null;
  versions: ModelVersionView[];
}

export interface DeploymentSummary {
  id: string;
  name: string;
  engine: string;
  status: string;
  desiredReplicas: number;
  readyReplicas: number;
  modelVersionId: string | null;
  modelName: string | null;
  spec: unknown;
  updatedAt: When;
}

export interface ReplicaView {
  id: string;
  nodeName: string | null;
  gpuIndices: number[] | null;
  url: string | null;
  status: string;
  restarts: number;
  lastError: string | null;
  pid: number | null;
  startedAt: When | null;
  /** Live from the engine's /metrics while it is ready. */
  load?: { running: number; waiting: number; kvCacheUsage?: number; generationTokensTotal?: number } | null;
}

export interface DeploymentEventView {
  at: When;
  kind: string;
  message: string | null;
}

export interface DeploymentDetail extends DeploymentSummary {
  replicas: ReplicaView[];
  events: DeploymentEventView[];
}

export interface PerGpuClaim {
  weightsBytes: number;
  kvCacheBytes: number;
  activationBytes: number;
  overheadBytes: number;
}

export interface DryRunView {
  feasible: boolean;
  tp: number | null;
  pp: number | null;
  placements: { node: string; gpus: number[] }[];
  perGpuBytes: number | null;
  perGpu: PerGpuClaim | null;
  maxConcurrentSequences: number | null;
  reasons: string[];
}

export interface GpuSampleView {
  at: When;
  utilizationPct: number | null;
  memoryUsedMiB: number | null;
  temperatureC: number | null;
  powerW: number | null;
}

export interface AllocationView {
  holderKind: string;
  holderId: string;
  holderName: string | null;
  /** The deployment a replica's allocation belongs to (the link target); absent for jobs. */
  deploymentId?: string | null;
  memoryBytes: number | null;
}

export interface GpuView {
  index: number;
  name: string | null;
  memoryTotalMiB: number | null;
  sample: GpuSampleView | null;
  allocations: AllocationView[];
}

export interface NodeView {
  id: string;
  name: string;
  status: string;
  labels: Record<string, string>;
  lastHeartbeatAt: When | null;
  driverVersion: string | null;
  cudaVersion: string | null;
  gpus: GpuView[];
}

export interface SamplePoint extends GpuSampleView {
  gpuIndex: number;
  memoryTotalMiB: number | null;
}
