/**
 * The GPU fleet's shared shapes: what the nvidia-smi parsers produce, what agents report, and what the
 * estimator and planner consume. Missing values are null, never NaN or a placeholder string.
 */
export interface GpuInfo {
  index: number;
  name: string | null;
  uuid: string | null;
  memoryTotalMiB: number | null;
  memoryUsedMiB: number | null;
  utilizationPct: number | null;
  temperatureC: number | null;
  powerW: number | null;
  /** Extra columns the parsers recognised (driver, pci bus id, MIG mode...), by normalised name. */
  extra?: Record<string, string | number | null>;
  /** Set when the row is a MIG device (or a GPU with MIG enabled): see the parser for which. */
  mig?: { enabled: boolean; parentUuid?: string | null } | null;
}

export interface Topology {
  /** Column order of the matrix: "GPU0".."GPUn" then "NIC0".. */
  devices: string[];
  /** links[i][j]: "X", "NV12", "PIX", "PXB", "PHB", "NODE", "SYS"... for devices i and j. */
  links: string[][];
  /** NUMA node of each GPU row (GPUs only, index = GPU number), null when not shown. */
  numaNode: (number | null)[];
  cpuAffinity?: (string | null)[];
}

export interface GpuProcess {
  gpuUuid: string | null;
  pid: number | null;
  name: string | null;
  usedMiB: number | null;
}

export interface Inventory {
  gpus: GpuInfo[];
  topology: Topology | null;
  processes: GpuProcess[] | null;
  driverVersion?: string | null;
  cudaVersion?: string | null;
  /** Why there are no GPUs, when there are none (no nvidia-smi, say). */
  note?: string;
}

/** A node as the planner sees it. */
export interface PlannerNode {
  name: string;
  healthy: boolean;
  labels: Record<string, string>;
  engines: string[];
  gpus: { index: number; memoryTotalBytes: number; /** claimed by other replicas or jobs */ allocatedBytes: number; exclusive?: boolean }[];
  topology: Topology | null;
}
