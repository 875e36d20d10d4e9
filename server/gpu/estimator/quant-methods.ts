import { EstimatorInputError, isObject, stringList, type Config } from './fields';

/**
 * How a quantized checkpoint stores its linear layers, as vLLM holds them on the GPU. Only linear
 * layers are ever quantized; embeddings, norms, biases and MoE routers stay in the model dtype (vLLM
 * builds routers and Qwen2-MoE's shared-expert gate with quant_config=None), and lm_head too unless the
 * method says otherwise.
 */
export interface QuantScheme {
  method: string;
  label: string;
  /** Bytes of one quantized weight matrix of inFeatures x outFeatures on one GPU: packed weights, scales, zero points, indices. */
  matrixBytes(inFeatures: number, outFeatures: number, module?: string): number;
  /** Whether the linear module at this checkpoint path is quantized. */
  quantizes(module: string): boolean;
  /** lm_head is quantized too (GPTQ's `lm_head: true`); vLLM keeps it 16-bit for every other method. */
  lmHead?: boolean;
}

const groups = (k: number, g: number) => (g <= 0 ? 1 : Math.ceil(k / g));
const where = (method: string) => `config.json quantization_config (${method})`;

function bitsField(q: Config, names: string[], allowed: number[], method: string, fallback?: number): number {
  const name = names.find((n) => q[n] !== undefined);
  const value = name ? q[name] : fallback;
  if (typeof value !== 'number' || !allowed.includes(value)) {
    throw new EstimatorInputError(`${where(method)}: ${names[0]} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function groupSize(q: Config, names: string[], method: string, fallback: number): number {
  const name = names.find((n) => q[n] !== undefined);
  const value = name ? q[name] : fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || (value <= 0 && value !== -1)) {
    throw new EstimatorInputError(`${where(method)}: ${names[0]} must be a positive integer or -1 (one group per column), not ${JSON.stringify(value)}`);
  }
  return value;
}

/** vLLM's AWQ/bitsandbytes skip test: a listed name anywhere in the module's path skips it. */
const skipBySubstring = (skip: string[]) => (module: string) => !skip.some((s) => module.includes(s));

/** AWQ (AutoAWQ): 4-bit packed weights, one fp16 scale and one packed zero point per group of input rows. */
export function awq(q: Config): QuantScheme {
  const bits = bitsField(q, ['bits', 'w_bit'], [4, 8], 'awq');
  const g = groupSize(q, ['group_size', 'q_group_size'], 'awq', 128);
  const zeroPoint = q.zero_point !== false;
  return {
    method: 'awq',
    label: `AWQ ${bits}-bit, group ${g}${zeroPoint ? ', zero points' : ''}`,
    matrixBytes: (k, n) => (k * n * bits) / 8 + groups(k, g) * n * 2 + (zeroPoint ? (groups(k, g) * n * bits) / 8 : 0),
    quantizes: skipBySubstring(q.modules_to_not_convert == null ? [] : stringList(q, 'modules_to_not_convert', where('awq'))),
  };
}

/**
 * GPTQ as vLLM's gptq_marlin kernel keeps it: packed weights and fp16 group scales; zero points only
 * for asymmetric checkpoints (symmetric ones store a constant that Marlin drops); with act-order
 * (desc_act) an int32 group index and its sort order per input row. `dynamic` entries starting "-:"
 * exclude modules; other per-module overrides are refused.
 */
export function gptq(q: Config): QuantScheme {
  const bits = bitsField(q, ['bits'], [2, 3, 4, 8], 'gptq');
  const g = groupSize(q, ['group_size'], 'gptq', 128);
  const sym = q.sym !== false;
  const actOrder = q.desc_act === true;
  const excluded: RegExp[] = [];
  if (isObject(q.dynamic)) {
    for (const key of Object.keys(q.dynamic)) {
      if (!key.startsWith('-:')) throw new EstimatorInputError(`${where('gptq')}: dynamic override ${JSON.stringify(key)} changes bits or groups per module, which the memory estimator does not model`);
      excluded.push(pythonRegex(key.slice(2), where('gptq')));
    }
  }
  return {
    method: 'gptq',
    label: `GPTQ ${bits}-bit, group ${g}${sym ? '' : ', zero points'}${actOrder ? ', act-order' : ''}`,
    matrixBytes: (k, n) => (k * n * bits) / 8 + groups(k, g) * n * 2 + (sym ? 0 : (groups(k, g) * n * bits) / 8) + (actOrder ? 2 * k * 4 : 0),
    quantizes: (module) => !excluded.some((r) => r.test(module)),
    lmHead: q.lm_head === true,
  };
}

/** FP8 (quant_method "fp8"): one byte per weight, a float32 scale per tensor or per weight_block_size block. */
export function fp8(q: Config): QuantScheme {
  const block = q.weight_block_size;
  if (block != null && !(Array.isArray(block) && block.length === 2 && block.every((b) => Number.isInteger(b) && (b as number) > 0))) {
    throw new EstimatorInputError(`${where('fp8')}: weight_block_size must be two positive integers [n, k], not ${JSON.stringify(block)}`);
  }
  const [bn, bk] = (block as [number, number] | null) ?? [0, 0];
  const ignored = q.ignored_layers == null ? [] : stringList(q, 'ignored_layers', where('fp8'));
  const skipped = q.modules_to_not_convert == null ? [] : stringList(q, 'modules_to_not_convert', where('fp8'));
  return {
    method: 'fp8',
    label: block ? `FP8, ${bn}x${bk} block scales` : 'FP8, per-tensor scales',
    matrixBytes: (k, n) => k * n + (block ? Math.ceil(n / bn) * Math.ceil(k / bk) * 4 : q.activation_scheme === 'static' ? 8 : 4),
    quantizes: (module) => !ignored.some((l) => module === l || module.startsWith(`${l}.`)) && skipBySubstring(skipped)(module),
  };
}

/**
 * bitsandbytes: 4-bit (nf4/fp4) packs two weights a byte with one absmax per 64 weights: a float32,
 * or with double quantization a byte plus a float32 per 256 absmax values. 8-bit (LLM.int8) keeps a
 * byte per weight and a float32 scale per output row. lm_head is never quantized by vLLM.
 */
export function bitsandbytes(q: Config): QuantScheme {
  const eightBit = q.load_in_8bit === true;
  const doubleQuant = q.bnb_4bit_use_double_quant === true;
  const skip = q.llm_int8_skip_modules == null ? [] : stringList(q, 'llm_int8_skip_modules', where('bitsandbytes'));
  const blocks = (k: number, n: number) => Math.ceil((k * n) / 64);
  return {
    method: 'bitsandbytes',
    label: eightBit ? 'bitsandbytes 8-bit' : `bitsandbytes 4-bit ${q.bnb_4bit_quant_type ?? 'fp4'}${doubleQuant ? ', double quant' : ''}`,
    matrixBytes: eightBit
      ? (k, n) => k * n + n * 4
      : (k, n) => (k * n) / 2 + (doubleQuant ? blocks(k, n) + Math.ceil(blocks(k, n) / 256) * 4 : blocks(k, n) * 4),
    quantizes: skipBySubstring(skip),
  };
}

/** Python's re.match anchors at the start of the name; the pattern is otherwise JavaScript-compatible in practice. */
export function pythonRegex(pattern: string, at: string): RegExp {
  try {
    return new RegExp(`^(?:${pattern})`);
  } catch {
    throw new EstimatorInputError(`${at}: ${JSON.stringify(pattern)} is not a regular expression the estimator can read`);
  }
}
