/**
 * The jobs API's answers as the jobs pages read them (the contract of server/api/routers/jobs.ts).
 * Dates arrive as strings over JSON (no tRPC transformer here), so both are accepted.
 */
export type When = string | Date;

export const JOB_STATUSES = ['queued', 'waiting', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const JOB_KINDS = ['finetune', 'quantize'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export type GateStatus = 'passed' | 'blocked' | 'overridden';

export interface JobProgress {
  step?: number;
  totalSteps?: number;
  epoch?: number;
  tokensPerSecond?: number;
  stage?: string;
  loss?: number;
  learningRate?: number;
}

export interface JobView {
  id: string;
  kind: JobKind;
  name: string;
  status: JobStatus | string;
  spec: Record<string, unknown>;
  ownerEmail?: string | null;
  waitingReason: string | null;
  memoryBytes: number | null;
  nodeName: string | null;
  gpuIndices: number[] | null;
  progress: JobProgress;
  logTail?: string[];
  lastCheckpoint: string | null;
  attempts: number;
  error: string | null;
  result: Record<string, unknown>;
  outputVersionId: string | null;
  gateStatus: GateStatus | null;
  gateOverrideReason: string | null;
  createdAt: When;
  startedAt: When | null;
  finishedAt: When | null;
}

export interface MetricView {
  kind: 'step' | 'eval';
  step: number;
  at: When;
  values: Record<string, number | null>;
}

export interface LineageNodeView {
  id: string;
  model: string;
  version: string;
  format: string;
  quantization: string | null;
  stage: string;
  parentVersionId: string | null;
  producedByJobId: string | null;
}

export interface LineageView {
  nodes: LineageNodeView[];
  edges?: { from: string; to: string }[];
  deployments: { id: string; name: string; modelVersionId: string; status: string }[];
}

/** jobs.estimate: memory per GPU and where it would go now (the same planner as deployments). */
export interface EstimateView {
  memoryBytes?: number | null;
  perGpuBytes?: number | null;
  feasible?: boolean;
  placements?: { node: string; gpus: number[] }[];
  node?: string | null;
  gpus?: number[] | null;
  reasons?: string[];
  reason?: string | null;
  breakdown?: Record<string, number>;
  /** One line per part of the estimate, with the figures it multiplied. */
  explanation?: string[];
}

export interface DatasetOption {
  id: string;
  name: string;
  format?: string;
  rows?: number;
}

export const FINISHED: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);
