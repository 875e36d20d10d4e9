import { compressedTensors } from './compressed-tensors';
import { EstimatorInputError, isObject } from './fields';
import { awq, bitsandbytes, fp8, gptq, type QuantScheme } from './quant-methods';

export type { QuantScheme } from './quant-methods';

const READERS: Record<string, (q: Record<string, unknown>) => QuantScheme> = {
  awq,
  gptq,
  fp8,
  'compressed-tensors': compressedTensors,
  bitsandbytes,
};

/** A checkpoint's quantization_config, read; null when there is none. Unknown methods are refused by name. */
export function quantizationFromConfig(q: unknown): QuantScheme | null {
  if (q == null) return null;
  if (!isObject(q) || typeof q.quant_method !== 'string') throw new EstimatorInputError('config.json: quantization_config must be an object naming its quant_method');
  const read = READERS[q.quant_method];
  if (!read) {
    throw new EstimatorInputError(
      `config.json: quantization_config.quant_method "${q.quant_method}" is not one the memory estimator has been taught (known: ${Object.keys(READERS).join(', ')}); refusing to guess its size`,
    );
  }
  return read(q);
}

/** vLLM's kernel-specific names for the same checkpoint format. */
const SAME_FORMAT: Record<string, string> = { awq_marlin: 'awq', gptq_marlin: 'gptq', marlin: 'gptq', w8a8: 'int8' };

/** Bytes per weight of GGUF block types, for a GGUF type named on an HF checkpoint (ggml's block sizes). */
const GGUF_BYTES: Record<string, number> = { f16: 2, q8_0: 34 / 32, q6_k: 6.5625 / 8, q5_k: 5.5 / 8, q5_0: 22 / 32, q4_k: 4.5 / 8, q4_0: 18 / 32 };

const flat = (method: string, label: string, perWeight: (k: number, n: number) => number): QuantScheme => ({
  method,
  label,
  matrixBytes: perWeight,
  quantizes: () => true,
});

/**
 * What `--quantization X` means for a checkpoint without a quantization_config: fp8 and bitsandbytes
 * quantize a 16-bit checkpoint while loading (fp8 per tensor; bitsandbytes with vLLM's defaults, 4-bit
 * without double quantization); int8 keeps a byte per weight and a float32 scale per channel. AWQ/GPTQ
 * need pre-quantized weights, so they are read as their common form (4-bit, group 128).
 */
function requested(method: string): QuantScheme {
  switch (method) {
    case 'fp8':
      return fp8({});
    case 'bitsandbytes':
      return bitsandbytes({});
    case 'int8':
      return flat('int8', 'INT8, per-channel scales', (k, n) => k * n + n * 4);
    case 'awq':
      return awq({ bits: 4, group_size: 128 });
    case 'gptq':
      return gptq({ bits: 4, group_size: 128 });
    case 'compressed-tensors':
      throw new EstimatorInputError('Quantization "compressed-tensors" needs the checkpoint’s own quantization_config to say how weights are stored');
  }
  const perWeight = GGUF_BYTES[method];
  if (perWeight === undefined) {
    throw new EstimatorInputError(`Unknown quantization "${method}": known are ${[...Object.keys(READERS), ...Object.keys(SAME_FORMAT), 'int8', ...Object.keys(GGUF_BYTES)].join(', ')}`);
  }
  return flat(method, `${method} (GGUF block format)`, (k, n) => k * n * perWeight);
}

/**
 * The scheme a deployment runs with: the checkpoint's own quantization_config when it has one (vLLM
 * refuses a --quantization that names another format, and so does this), else what the spec asks for.
 */
export function effectiveQuantization(checkpoint: QuantScheme | null, spec: string | null): QuantScheme | null {
  const asked = spec === null ? null : (SAME_FORMAT[spec] ?? spec);
  if (checkpoint) {
    if (asked !== null && asked !== checkpoint.method) {
      throw new EstimatorInputError(
        `Quantization method specified in the model config (${checkpoint.method}) does not match the quantization method specified in the \`quantization\` argument (${spec}).`,
      );
    }
    return checkpoint;
  }
  return asked === null ? null : requested(asked);
}
