import type { AlertKind } from './kinds';

/** One 15 s gpu_samples row, as the evaluators see it (times in epoch ms). */
export interface RecordedSample {
  at: number;
  utilizationPct: number | null;
  memoryUsedMiB: number | null;
  memoryTotalMiB: number | null;
  temperatureC: number | null;
}

export interface GpuInput {
  nodeName: string;
  gpuIndex: number;
  /** From the inventory, when the sample does not carry it. */
  memoryTotalMiB: number | null;
  /** Oldest first. */
  samples: RecordedSample[];
  /** Holders right now, with when each took the GPU. */
  allocations: { holderName: string; since: number }[];
}

export interface NodeInput {
  name: string;
  lastHeartbeatAt: number | null;
  status: string;
}

export interface ReplicaRestartInput {
  deploymentName: string;
  replicaId: string;
  /** Times of restart events, any order. */
  restarts: number[];
}

/** A deployment's gateway traffic over one trailing window (aggregated in SQL: the rows can be many). */
export interface DeploymentWindowInput {
  deploymentName: string;
  windowSeconds: number;
  requests: number;
  errors: number;
  /** p95 of time to first token in ms over requests that streamed one; null when none did. */
  ttftP95Ms: number | null;
  ttftCount: number;
}

export interface AlertInputs {
  now: number;
  gpus: GpuInput[];
  nodes: NodeInput[];
  replicaRestarts: ReplicaRestartInput[];
  deploymentWindows: DeploymentWindowInput[];
}

export interface RuleView {
  id: string;
  name: string;
  kind: AlertKind;
  threshold: number;
  durationSeconds: number;
  severity: 'warning' | 'critical';
  scope: Record<string, string>;
}

/** What an evaluator says about one subject now. Subjects it does not mention are not in trouble. */
export interface Observation {
  subject: string;
  /** When the condition started to hold without a break (epoch ms). */
  since: number;
  value: number;
  message: string;
  labels: Record<string, string>;
}
