import { VOCAB_PADDING } from './constants';
import type { ModelShape } from './shape';

/** How a model's tensors land on one GPU for a given TP and PP, in elements (not bytes). */
export interface WeightSplit {
  /** Linear layers: q/k/v/o and the MLP (or every expert's MLP), the part quantization shrinks. */
  linear: number;
  /** Embeddings, lm_head, norms, biases, MoE router: kept in the model dtype. */
  unquantized: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** Key/value heads on one GPU: split across TP ranks, or replicated when there are fewer heads than ranks (as vLLM does). */
export function kvHeadsPerGpu(shape: ModelShape, tp: number): number {
  return shape.kvHeads >= tp ? ceilDiv(shape.kvHeads, tp) : 1;
}

export function paddedVocab(shape: ModelShape): number {
  return ceilDiv(shape.vocabSize, VOCAB_PADDING) * VOCAB_PADDING;
}

function layerSplit(shape: ModelShape, tp: number): WeightSplit {
  const { hiddenSize: h, headDim: d } = shape;
  const qWidth = ceilDiv(shape.attentionHeads, tp) * d;
  const kvWidth = kvHeadsPerGpu(shape, tp) * d;
  const attention = h * qWidth + 2 * h * kvWidth + qWidth * h;
  const mlp = shape.experts * 3 * h * ceilDiv(shape.intermediateSize, tp);
  const bias = shape.qkvBias ? qWidth + 2 * kvWidth : 0;
  const router = shape.experts > 1 ? h * shape.experts : 0;
  return { linear: attention + mlp, unquantized: bias + router + 2 * h };
}

/**
 * The busiest GPU's share: ceil(layers / PP) layers, plus the embeddings (first stage) or lm_head and
 * the final norm (last stage). Embeddings and lm_head are split over TP like vLLM's vocab-parallel
 * layers; a tied lm_head costs nothing extra when one stage holds both.
 */
export function weightsPerGpu(shape: ModelShape, tp: number, pp: number): WeightSplit {
  const layer = layerSplit(shape, tp);
  const layers = ceilDiv(shape.layers, pp);
  const vocabSlice = ceilDiv(paddedVocab(shape), tp) * shape.hiddenSize;
  const ends = pp === 1 ? vocabSlice * (shape.tiedEmbeddings ? 1 : 2) + shape.hiddenSize : vocabSlice + shape.hiddenSize;
  return { linear: layer.linear * layers, unquantized: layer.unquantized * layers + ends };
}

/** Total parameters (TP = PP = 1, vocabulary unpadded): the figure model cards quote. */
export function parameterCount(shape: ModelShape): number {
  const layer = layerSplit(shape, 1);
  const vocab = shape.vocabSize * shape.hiddenSize * (shape.tiedEmbeddings ? 1 : 2);
  return (layer.linear + layer.unquantized) * shape.layers + vocab + shape.hiddenSize;
}
