import type { DeploymentSpec } from './deployment-spec';

/**
 * The spec's quantizations as the engines for Hugging Face checkpoints spell them (vLLM's
 * `--quantization` and TGI's `--quantize` agree on these); null where the engine reads the method from
 * the checkpoint's quantization_config instead (W8A8 int8 checkpoints name their scheme there).
 */
export const HF_QUANTIZATION: Readonly<Record<string, string | null>> = {
  fp8: 'fp8',
  awq: 'awq',
  gptq: 'gptq',
  bitsandbytes: 'bitsandbytes',
  'compressed-tensors': 'compressed-tensors',
  int8: null,
};

/** The refusal for a GGUF-only quantization (q8_0, f16) on an engine that serves Hugging Face checkpoints. */
export function ggufOnlyProblem(engine: string, spec: DeploymentSpec, known: Readonly<Record<string, string | null>>): string | null {
  return spec.quantization && !(spec.quantization in known)
    ? `${engine} cannot serve '${spec.quantization}' weights: that is a GGUF (llama.cpp) format; use the llamacpp engine`
    : null;
}
