import type { DeploymentSpec } from '../../lifecycle/deployment-spec';
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
  // The gateway is the only door: an engine-side key or a second API server would bypass it.
  '--api-key',
  '--data-parallel-size',
  '-dp',
]);

/** vLLM's own `--quantization` names for the spec's values; int8 checkpoints carry their method in config.json. */
const VLLM_QUANTIZATION: Record<string, string | null> = {
  fp8: 'fp8',
  awq: 'awq',
  gptq: 'gptq',
  bitsandbytes: 'bitsandbytes',
  'compressed-tensors': 'compressed-tensors',
  // W8A8 checkpoints (llm-compressor) name their scheme in quantization_config; vLLM reads it from there.
  int8: null,
};

export class VllmSpecError extends Error {}

/** Every reason this spec cannot become a `vllm serve` command line, in plain words ([] when it can). */
export function vllmSpecProblems(spec: DeploymentSpec): string[] {
  const problems: string[] = [];
  if (spec.quantization && !(spec.quantization in VLLM_QUANTIZATION))
    problems.push(`vLLM cannot serve '${spec.quantization}' weights: that is a GGUF (llama.cpp) format; use the llamacpp engine`);
  const extra = spec.extraArgs;
  for (let i = 0; i < extra.length; i++) {
    const arg = extra[i]!;
    if (!arg.startsWith('-')) {
      const previous = extra[i - 1];
      if (!previous?.startsWith('-') || previous.includes('=')) problems.push(`extra argument '${arg}' is not a flag or a flag's value`);
      continue;
    }
    if (!/^--?[a-z0-9][a-z0-9-_]*(=.*)?$/i.test(arg)) {
      problems.push(`extra argument '${arg}' is not a well-formed flag`);
      continue;
    }
    const flag = arg.split('=')[0]!.replaceAll('_', '-');
    if (OWNED_FLAGS.has(flag)) problems.push(`extra argument '${flag}' is set from the deployment spec; change the spec instead`);
  }
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
      CUDA_VISIBLE_DEVICES: launch.gpuIndices.join(','),
      // Placement picks GPUs by nvidia-smi's index; CUDA's default order (fastest first) can differ from it.
      CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
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
