import type { DeploymentSpec } from '../deployment-spec';
import { extraArgProblems, extraArgValue } from '../extra-args';
import { placedGpuEnv } from '../gpu-env';
import { ggufOnlyProblem, HF_QUANTIZATION } from '../hf-quantization';
import { ENGINE_API_KEY_ENV } from '../replica-secret';
import type { EngineCommand, LaunchRequest } from '../types';
import { GROUP_FLAGS, vllmGroupCommand } from './multinode';

/**
 * Flags the deployment spec (or the placement) owns: an extra argument may not set them a second time,
 * because vLLM's argparse keeps the last value and the replica would then differ from what was planned.
 */
const OWNED_FLAGS = new Set([
  '--model',
  '--host',
  '--port',
  '--served-model-name',
  '--tensor-parallel-size',
  '-tp',
  '--pipeline-parallel-size',
  '-pp',
  '--dtype',
  '--quantization',
  '-q',
  '--max-model-len',
  '--gpu-memory-utilization',
  '--enable-lora',
  '--lora-modules',
  '--max-loras',
  // The replica's own secret reaches vLLM through VLLM_API_KEY (not argv, which any local user can read);
  // an --api-key here would replace it with a key the gateway does not know, or one visible in /proc.
  '--api-key',
  '--data-parallel-size',
  '-dp',
  ...GROUP_FLAGS,
]);

/** vLLM's own `--quantization` names for the spec's values; int8 checkpoints carry their method in config.json. */
const VLLM_QUANTIZATION = HF_QUANTIZATION;

export class VllmSpecError extends Error {}

/** Every reason this spec cannot become a `vllm serve` command line, in plain words ([] when it can). */
export function vllmSpecProblems(spec: DeploymentSpec): string[] {
  const problems: string[] = [];
  const gguf = ggufOnlyProblem('vLLM', spec, VLLM_QUANTIZATION);
  if (gguf) problems.push(gguf);
  problems.push(...extraArgProblems(spec.extraArgs, OWNED_FLAGS));
  // Across hosts the executor follows how the group is formed (vLLM's own launch: mp; a Ray cluster: ray).
  if (spec.pp > 1 && extraArgValue(spec.extraArgs, '--distributed-executor-backend') !== undefined)
    problems.push("extra argument '--distributed-executor-backend' is chosen by the multi-node launch (ENCLAVE_VLLM_MULTINODE) when PP > 1");
  return problems;
}

/** The `vllm serve` command for one placed replica. Throws VllmSpecError when the spec cannot run on vLLM. */
export function vllmCommand(launch: LaunchRequest, bin = process.env.ENCLAVE_VLLM_BIN || 'vllm'): EngineCommand {
  const spec = launch.spec;
  const problems = vllmSpecProblems(spec);
  if (problems.length) throw new VllmSpecError(problems.join('; '));
  const tp = spec.tp ?? 1;
  const group = launch.group;
  // Across hosts each host runs one pipeline stage of TP GPUs; on one host it runs all TP x PP.
  if (group && group.nodes !== spec.pp) throw new VllmSpecError(`the placement spread the replica over ${group.nodes} hosts but PP is ${spec.pp} (one stage per host)`);
  const needed = group ? tp : tp * spec.pp;
  if (launch.gpuIndices.length !== needed)
    throw new VllmSpecError(`the placement gave ${launch.gpuIndices.length} GPU(s) but TP ${tp} x PP ${spec.pp} needs ${needed}${group ? ' on each host' : ''}`);

  const engineArgs = [
    '--served-model-name',
    launch.servedName,
    '--tensor-parallel-size',
    String(tp),
    '--pipeline-parallel-size',
    String(spec.pp),
    '--dtype',
    spec.dtype,
  ];
  const quantization = spec.quantization ? VLLM_QUANTIZATION[spec.quantization] : null;
  if (quantization) engineArgs.push('--quantization', quantization);
  if (spec.maxModelLen) engineArgs.push('--max-model-len', String(spec.maxModelLen));
  engineArgs.push('--gpu-memory-utilization', String(spec.gpuMemoryUtilization));
  engineArgs.push(...loraArgs(spec));
  engineArgs.push(...spec.extraArgs);
  if (group)
    return vllmGroupCommand(launch, group, engineArgs, { vllm: bin, ray: process.env.ENCLAVE_RAY_BIN || 'ray', socketIfname: process.env.ENCLAVE_VLLM_SOCKET_IFNAME || undefined });
  return {
    file: bin,
    args: ['serve', launch.modelLocation, '--host', launch.host, '--port', String(launch.port), ...engineArgs],
    env: {
      ...placedGpuEnv(launch.gpuIndices),
      // vLLM then answers 401 on /v1/* without `Authorization: Bearer <secret>`; /health and /metrics stay open.
      [ENGINE_API_KEY_ENV]: launch.apiKey,
    },
  };
}

/** `--enable-lora --lora-modules name=path ... --max-loras N`: every adapter is served under its own name. */
function loraArgs(spec: DeploymentSpec): string[] {
  const adapters = spec.loraAdapters;
  if (adapters.length === 0) return [];
  // max_loras bounds how many different adapters share one batch; vLLM's default of 1 would serialise them.
  return ['--enable-lora', '--lora-modules', ...adapters.map((a) => `${a.name}=${a.path}`), '--max-loras', String(Math.min(adapters.length, 8))];
}
