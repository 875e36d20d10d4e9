import type { DeploymentSpec } from '../lifecycle/deployment-spec';

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
}

export interface EngineCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
}

export type Readiness = 'ready' | 'loading' | 'failed';

/**
 * How to run a model on one engine: its command line, how to tell it is ready, and how to explain a
 * failed start from its log. Process-less engines (upstream) return null from command().
 */
export interface EngineDriver {
  name: 'llamacpp' | 'vllm' | 'upstream';
  command(launch: LaunchRequest): EngineCommand | null;
  probeReady(baseUrl: string, servedName: string, signal?: AbortSignal): Promise<Readiness>;
  /** A plain-words reason for a failed start found in the log tail, or null when none is recognised. */
  diagnose(logTail: string): string | null;
}
