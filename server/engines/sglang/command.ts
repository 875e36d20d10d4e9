import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DeploymentSpec } from '../deployment-spec';
import { extraArgProblems } from '../extra-args';
import { placedGpuEnv } from '../gpu-env';
import { ggufOnlyProblem, HF_QUANTIZATION } from '../hf-quantization';
import type { EngineCommand, LaunchRequest } from '../types';

/** Flags the deployment spec or the placement owns: argparse keeps the last value, and the replica would differ from the plan. */
const OWNED_FLAGS = new Set([
  '--model-path',
  '--model',
  '--host',
  '--port',
  '--served-model-name',
  '--tp-size',
  '--tp',
  '--tensor-parallel-size',
  '--pp-size',
  '--dp-size',
  '--dp',
  '--dtype',
  '--quantization',
  '--context-length',
  '--mem-fraction-static',
  // The secret reaches SGLang through the --config file written below, never argv (readable by every local user).
  '--api-key',
  '--admin-api-key',
  '--config',
  '--enable-lora',
  '--lora-paths',
]);

/** SGLang's `--quantization` names for the spec's values: vLLM's, but W8A8 int8 checkpoints go by its own name. */
const SGLANG_QUANTIZATION: Readonly<Record<string, string | null>> = { ...HF_QUANTIZATION, int8: 'w8a8_int8' };

export class SglangSpecError extends Error {}

/** Every reason this spec cannot become a `python3 -m sglang.launch_server` command line ([] when it can). */
export function sglangSpecProblems(spec: DeploymentSpec): string[] {
  const problems: string[] = [];
  const gguf = ggufOnlyProblem('SGLang', spec, SGLANG_QUANTIZATION);
  if (gguf) problems.push(gguf);
  if (spec.pp > 1) problems.push('Enclave runs SGLang with tensor parallelism on one node; use pp 1 and a larger tp');
  if (spec.loraAdapters.length) problems.push('LoRA adapters are served through vLLM in Enclave; use the vllm engine for a deployment with adapters');
  problems.push(...extraArgProblems(spec.extraArgs, OWNED_FLAGS));
  return problems;
}

/**
 * SGLang takes its API key only as --api-key (no environment variable), and argv is readable by every
 * local user. Its --config YAML (CLI flags override it) carries the key instead, in a file only the
 * agent's user can read; a file per replica, rewritten at each start.
 */
export function writeSglangConfig(replicaId: string, apiKey: string, dir = path.join(os.tmpdir(), `enclave-sglang-${os.userInfo().uid}`)): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const file = path.join(dir, `${replicaId}.yaml`);
  fs.writeFileSync(file, `api-key: ${JSON.stringify(apiKey)}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

/** The `python3 -m sglang.launch_server` command for one placed replica. Throws SglangSpecError when the spec cannot run on SGLang. */
export function sglangCommand(launch: LaunchRequest, python = process.env.ENCLAVE_SGLANG_PYTHON || 'python3', configDir?: string): EngineCommand {
  const spec = launch.spec;
  const problems = sglangSpecProblems(spec);
  if (problems.length) throw new SglangSpecError(problems.join('; '));
  const tp = spec.tp ?? 1;
  if (launch.gpuIndices.length !== tp) throw new SglangSpecError(`the placement gave ${launch.gpuIndices.length} GPU(s) but TP ${tp} needs ${tp}`);
  const args = [
    '-m',
    'sglang.launch_server',
    '--model-path',
    launch.modelLocation,
    '--host',
    launch.host,
    '--port',
    String(launch.port),
    '--served-model-name',
    launch.servedName,
    '--tp-size',
    String(tp),
    '--dtype',
    spec.dtype,
    // SGLang's static pool (weights and KV cache) takes this share of each GPU; see estimate-spec.ts.
    '--mem-fraction-static',
    String(spec.gpuMemoryUtilization),
    // Off by default in SGLang; Enclave reads load from /metrics.
    '--enable-metrics',
    '--config',
    writeSglangConfig(launch.replicaId, launch.apiKey, configDir),
  ];
  const quantization = spec.quantization ? SGLANG_QUANTIZATION[spec.quantization] : null;
  if (quantization) args.push('--quantization', quantization);
  if (spec.maxModelLen) args.push('--context-length', String(spec.maxModelLen));
  args.push(...spec.extraArgs);
  return {
    file: python,
    args,
    env: placedGpuEnv(launch.gpuIndices),
  };
}
