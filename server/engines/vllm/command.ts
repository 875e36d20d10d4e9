import type { DeploymentSpec } from '../deployment-spec';
import { extraArgProblems } from '../extra-args';
import { placedGpuEnv } from '../gpu-env';
import { ggufOnlyProblem, HF_QUANTIZATION } from '../hf-quantization';
import { ENGINE_API_KEY_ENV } from '../replica-secret';
import type { EngineCommand, LaunchRequest } from '../types';

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
  return problems;
}

/** The `vllm serve` command for one placed replica. Throws VllmSpecError when the spec cannot run on vLLM. */
export function vllmCommand(launch: LaunchRequest, bin = process.env.ENCLAVE_VLLM_BIN || 'vllm'): EngineCommand {
  const spec = launch.spec;
  const problems = vllmSpecProblems(spec);
  if (problems.length) throw new VllmSpecError(problems.join('; '));
  const tp = spec.tp ?? 1;
  if (launch.gpuIndices.length !== tp * spec.pp)
    throw new VllmSpecError(`the placement gave ${launch.gpuIndices.length} GPU(s) but TP ${tp} x PP ${spec.pp} needs ${tp * spec.pp}`);

  const args = [
    'serve',
    launch.modelLocation,
    '--host',
    launch.host,
    '--port',
    String(launch.port),
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
  if (quantization) args.push('--quantization', quantization);
  if (spec.maxModelLen) args.push('--max-model-len', String(spec.maxModelLen));
  args.push('--gpu-memory-utilization', String(spec.gpuMemoryUtilization));
  args.push(...loraArgs(spec));
  args.push(...spec.extraArgs);
  return {
    file: bin,
    args,
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
