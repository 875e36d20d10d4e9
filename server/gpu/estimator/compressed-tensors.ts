import { EstimatorInputError, isObject, stringList, type Config } from './fields';
import { pythonRegex, type QuantScheme } from './quant-methods';

const WHERE = 'config.json quantization_config (compressed-tensors)';

interface WeightArgs {
  bits: number;
  strategy: 'tensor' | 'channel' | 'group' | 'block' | 'tensor_group';
  groupSize: number;
  block: [number, number];
  symmetric: boolean;
}

function weightArgs(name: string, weights: unknown): WeightArgs {
  if (!isObject(weights)) throw new EstimatorInputError(`${WHERE}: config_groups.${name}.weights is missing: the estimator cannot tell how weights are stored`);
  const bits = weights.num_bits;
  if (typeof bits !== 'number' || ![4, 8].includes(bits)) throw new EstimatorInputError(`${WHERE}: config_groups.${name}.weights.num_bits must be 4 or 8, not ${JSON.stringify(bits)}`);
  const strategy = weights.strategy ?? 'tensor';
  if (typeof strategy !== 'string' || !['tensor', 'channel', 'group', 'block', 'tensor_group'].includes(strategy)) {
    throw new EstimatorInputError(`${WHERE}: config_groups.${name}.weights.strategy ${JSON.stringify(strategy)} is not one the estimator knows (tensor, channel, group, block, tensor_group)`);
  }
  const groupSize = typeof weights.group_size === 'number' ? weights.group_size : strategy === 'tensor_group' ? 16 : 0;
  if ((strategy === 'group' || strategy === 'tensor_group') && !(groupSize > 0)) {
    throw new EstimatorInputError(`${WHERE}: config_groups.${name}.weights.group_size must be a positive integer for the ${strategy} strategy`);
  }
  const block: [number, number] = Array.isArray(weights.block_structure) ? (weights.block_structure as [number, number]) : [128, 128];
  return { bits, strategy: strategy as WeightArgs['strategy'], groupSize, block, symmetric: weights.symmetric !== false };
}

/**
 * Bytes of one matrix: packed weights, then scales as compressed-tensors saves them (float32 per tensor,
 * per output channel or per block; the model dtype per group; an fp8 scale per 16 for nvfp4's
 * tensor_group), then zero points of asymmetric schemes, packed at the weight width.
 */
function matrixBytes(w: WeightArgs, k: number, n: number): number {
  const packed = (k * n * w.bits) / 8;
  const scales =
    w.strategy === 'tensor' ? 1
    : w.strategy === 'channel' ? n
    : w.strategy === 'block' ? Math.ceil(n / w.block[0]) * Math.ceil(k / w.block[1])
    : Math.ceil(k / w.groupSize) * n;
  const scaleBytes = w.strategy === 'group' ? 2 : w.strategy === 'tensor_group' ? 1 : 4;
  return packed + scales * scaleBytes + (w.symmetric ? 0 : (scales * w.bits) / 8);
}

/**
 * compressed-tensors (llm-compressor): each config group names its targets ("Linear", or "re:" patterns
 * on module names) and how their weights are stored; `ignore` lists modules left in 16 bits, by exact
 * name or "re:" pattern (vLLM matches with Python's re.match).
 */
export function compressedTensors(q: Config): QuantScheme {
  if (!isObject(q.config_groups) || Object.keys(q.config_groups).length === 0) {
    throw new EstimatorInputError(`${WHERE}: config_groups is missing or empty: the estimator cannot tell which layers are quantized or how`);
  }
  const rules = Object.entries(q.config_groups).map(([name, group]) => {
    if (!isObject(group)) throw new EstimatorInputError(`${WHERE}: config_groups.${name} must be an object`);
    const targets = stringList(group, 'targets', `${WHERE} config_groups.${name}`).map((t) => (t.startsWith('re:') ? pythonRegex(t.slice(3), WHERE) : t));
    return { targets, weights: weightArgs(name, group.weights) };
  });
  const ignore = stringList(q, 'ignore', WHERE).map((i) => (i.startsWith('re:') ? pythonRegex(i.slice(3), WHERE) : i));
  // As compressed-tensors matches, a target naming the module (exactly or by "re:") wins over the
  // class name "Linear", so a mixed-precision checkpoint's expert group beats its catch-all group.
  const byName = (module: string) => rules.find((r) => r.targets.some((t) => (typeof t === 'string' ? t === module : t.test(module))));
  const ruleFor = (module: string) => byName(module) ?? rules.find((r) => r.targets.includes('Linear'));
  const first = rules[0]!.weights;
  return {
    method: 'compressed-tensors',
    label: `compressed-tensors ${first.bits}-bit ${first.strategy}${first.strategy === 'group' ? ` ${first.groupSize}` : ''}${first.symmetric ? '' : ', zero points'}`,
    matrixBytes: (k, n, module) => matrixBytes((module === undefined ? undefined : ruleFor(module)?.weights) ?? first, k, n),
    quantizes: (module) => !ignore.some((i) => (typeof i === 'string' ? i === module : i.test(module))) && ruleFor(module) !== undefined,
  };
}
