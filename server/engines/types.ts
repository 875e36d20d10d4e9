import type { EngineName } from '../db/schema';
import type { DeploymentSpec } from './deployment-spec';

/** Everything an engine needs to turn a placed replica into a process. */
export interface LaunchRequest {
  deploymentId: string;
  replicaId: string;
  /** The name clients pass as `model` (the deployment's name). */
  servedName: string;
  /** Model weights: a GGUF file, or a Hugging Face checkpoint directory or id. */
  modelLocation: string;
  spec: DeploymentSpec;
  /** GPU indices on the node, from the placement ([] for CPU engines). */
  gpuIndices: number[];
  host: string;
  port: number;
  /** The replica's secret (replica-secret.ts): the engine refuses its OpenAI API without it. Empty for a group's worker (no API). */
  apiKey: string;
  /** This host's part of a replica spread over several hosts (vLLM only); absent for a one-host replica. */
  group?: GroupLaunch;
}

/**
 * One host's part of a multi-node replica: pipeline stage `rank` of `nodes`, meeting the head (rank 0) at
 * masterAddr:masterPort. `mode` is how vLLM forms the group: 'mp', its own multi-node launch (`--nnodes`,
 * `--node-rank`, `--master-addr`, `--headless`), or 'ray', a Ray cluster the head starts and workers join.
 */
export interface GroupLaunch {
  mode: 'mp' | 'ray';
  nodes: number;
  rank: number;
  masterAddr: string;
  masterPort: number;
}

export interface EngineCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
}

export type Readiness = 'ready' | 'loading' | 'failed';

/** What the reconciler, the dashboards and the load balancer read from one replica's /metrics, whatever the engine. */
export interface EngineLoad {
  running: number;
  waiting: number;
  /** 0..1; absent on engines that do not report it (llamacpp). */
  kvCacheUsage?: number;
  promptTokensTotal?: number;
  generationTokensTotal?: number;
  preemptionsTotal?: number;
}

/**
 * How to run a model on one engine: its command line, how to tell it is ready, and how to explain a
 * failed start from its log. Process-less engines (upstream) return null from command().
 */
export interface EngineDriver {
  name: EngineName;
  command(launch: LaunchRequest): EngineCommand | null;
  /** `apiKey`: the replica's secret, for engines whose model list needs it (process-less engines ignore it). */
  probeReady(baseUrl: string, servedName: string, signal?: AbortSignal, apiKey?: string): Promise<Readiness>;
  /** A plain-words reason for a failed start found in the log tail, or null when none is recognised. */
  diagnose(logTail: string): string | null;
  /** The engine's Prometheus text (its own metric names) as Enclave's load; absent for engines with no /metrics of ours to read. */
  parseMetrics?(text: string): EngineLoad;
  /** Every reason a spec cannot run on this engine, in plain words ([] when it can): checked when a deployment is saved. */
  specProblems?(spec: DeploymentSpec): string[];
}
