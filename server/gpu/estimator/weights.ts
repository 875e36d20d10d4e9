import { VOCAB_PADDING } from './constants';
import type { QuantScheme } from './quantization';
import type { ModelShape } from './shape';
import { stageTensors, type Tensor } from './tensors';

export { kvHeadsPerGpu } from './tensors';

/** How a model's tensors land on one GPU, in elements: what a quantization method packs, and what stays in the model dtype. */
export interface WeightSplit {
  linear: number;
  unquantized: number;
}

export function paddedVocab(shape: ModelShape): number {
  return Math.ceil(shape.vocabSize / VOCAB_PADDING) * VOCAB_PADDING;
}

const elements = (t: Tensor) => t.inFeatures * t.outFeatures * t.copies;

/** lm_head is a linear but vLLM keeps it 16-bit unless the method quantizes it explicitly (GPTQ lm_head). */
const isQuantized = (t: Tensor, q: QuantScheme | null): q is QuantScheme =>
  q !== null && t.kind === 'linear' && (t.module === 'lm_head' ? q.lmHead === true : q.quantizes(t.module));

export interface StageWeights extends WeightSplit {
  stage: number;
  bytes: number;
}

function stageWeights(shape: ModelShape, tp: number, pp: number, stage: number, q: QuantScheme | null, elementBytes: number): StageWeights {
  const result = { stage, bytes: 0, linear: 0, unquantized: 0 };
  for (const t of stageTensors(shape, tp, pp, stage, paddedVocab(shape))) {
    if (isQuantized(t, q)) {
      result.linear += elements(t);
      result.bytes += q.matrixBytes(t.inFeatures, t.outFeatures, t.module) * t.copies;
    } else {
      result.unquantized += elements(t);
      result.bytes += elements(t) * elementBytes;
    }
  }
  result.bytes = Math.ceil(result.bytes);
  return result;
}

/** The busiest GPU: the pipeline stage whose layers and ends weigh the most. */
export function busiestStage(shape: ModelShape, tp: number, pp: number, q: QuantScheme | null, elementBytes: number): StageWeights {
  const stages = Array.from({ length: pp }, (_, s) => stageWeights(shape, tp, pp, s, q, elementBytes));
  return stages.reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

// Counts every linear but lm_head as quantizable, at 16 bits: the split a method would start from.
const EVERY_LINEAR: QuantScheme = { method: 'none', label: '16-bit', matrixBytes: (k, n) => k * n * 2, quantizes: () => true };

/** Elements on the busiest GPU, split into what quantization packs and what it leaves (16-bit counting). */
export function weightsPerGpu(shape: ModelShape, tp: number, pp: number, q: QuantScheme | null = EVERY_LINEAR): WeightSplit {
  const { linear, unquantized } = busiestStage(shape, tp, pp, q, 2);
  return { linear, unquantized };
}

/** Total parameters (TP = PP = 1, vocabulary unpadded, vision tower included): the figure model cards quote. */
export function parameterCount(shape: ModelShape): number {
  return stageTensors(shape, 1, 1, 0, shape.vocabSize).reduce((sum, t) => sum + elements(t), 0);
}
