import type { ModelShape } from './shape';

/**
 * One weight tensor (or `copies` identical ones: experts) as it sits on one GPU. A `linear` is a weight
 * matrix of inFeatures x outFeatures that a quantization method may store packed; `plain` tensors
 * (embeddings, norms, biases, routers, the vision tower) always stay in the model dtype.
 */
export interface Tensor {
  module: string;
  kind: 'linear' | 'plain';
  inFeatures: number;
  outFeatures: number;
  copies: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);
const linear = (module: string, inFeatures: number, outFeatures: number, copies = 1): Tensor => ({ module, kind: 'linear', inFeatures, outFeatures, copies });
const plain = (module: string, elements: number): Tensor => ({ module, kind: 'plain', inFeatures: 1, outFeatures: elements, copies: 1 });

/** Key/value heads on one GPU: split across TP ranks, or replicated when there are fewer heads than ranks (as vLLM does). */
export function kvHeadsPerGpu(shape: ModelShape, tp: number): number {
  return shape.kvHeads >= tp ? ceilDiv(shape.kvHeads, tp) : 1;
}

function attention(shape: ModelShape, p: string, tp: number): Tensor[] {
  const h = shape.hiddenSize;
  const heads = ceilDiv(shape.attentionHeads, tp);
  const mla = shape.mla;
  if (mla) {
    // vLLM's DeepseekV2 attention: the low-rank "a" projections are replicated on every rank, the "b"
    // projections and o_proj split by heads.
    const qk = mla.qkNopeHeadDim + mla.qkRopeHeadDim;
    const q = mla.qLoraRank
      ? [linear(`${p}self_attn.q_a_proj`, h, mla.qLoraRank), plain(`${p}self_attn.q_a_layernorm`, mla.qLoraRank), linear(`${p}self_attn.q_b_proj`, mla.qLoraRank, heads * qk)]
      : [linear(`${p}self_attn.q_proj`, h, heads * qk)];
    return [
      ...q,
      linear(`${p}self_attn.kv_a_proj_with_mqa`, h, mla.kvLoraRank + mla.qkRopeHeadDim),
      plain(`${p}self_attn.kv_a_layernorm`, mla.kvLoraRank),
      linear(`${p}self_attn.kv_b_proj`, mla.kvLoraRank, heads * (mla.qkNopeHeadDim + mla.vHeadDim)),
      linear(`${p}self_attn.o_proj`, heads * mla.vHeadDim, h),
    ];
  }
  const qWidth = heads * shape.headDim;
  const kvWidth = kvHeadsPerGpu(shape, tp) * shape.headDim;
  return [
    linear(`${p}self_attn.q_proj`, h, qWidth),
    linear(`${p}self_attn.k_proj`, h, kvWidth),
    linear(`${p}self_attn.v_proj`, h, kvWidth),
    linear(`${p}self_attn.o_proj`, qWidth, h),
    ...(shape.qkvBias ? [plain(`${p}self_attn.qkv_bias`, qWidth + 2 * kvWidth)] : []),
    ...(shape.qkNorm ? [plain(`${p}self_attn.qk_norm`, 2 * shape.headDim)] : []),
  ];
}

const gatedMlp = (p: string, h: number, width: number, copies = 1, [gate, up, down] = ['gate_proj', 'up_proj', 'down_proj']) => [
  linear(`${p}${gate}`, h, width, copies),
  linear(`${p}${up}`, h, width, copies),
  linear(`${p}${down}`, width, h, copies),
];

function mlp(shape: ModelShape, p: string, layer: number, tp: number): Tensor[] {
  const h = shape.hiddenSize;
  const moe = shape.moe;
  if (!moe || !moe.moeLayers[layer]) return gatedMlp(`${p}mlp.`, h, ceilDiv(shape.intermediateSize, tp));
  // Every expert is resident; without expert parallelism vLLM's FusedMoE splits each expert's
  // intermediate width across TP ranks. Routers are replicated and never quantized.
  const mixtral = shape.architecture === 'MixtralForCausalLM';
  const block = mixtral ? `${p}block_sparse_moe.` : `${p}mlp.`;
  const tensors = [
    plain(`${block}gate`, h * moe.experts + (moe.routerBias ? moe.experts : 0)),
    ...gatedMlp(`${block}experts.`, h, ceilDiv(moe.expertIntermediate, tp), moe.experts, mixtral ? ['w1', 'w3', 'w2'] : undefined),
  ];
  if (moe.sharedIntermediate > 0) {
    const shared = shape.architecture.startsWith('Deepseek') ? 'shared_experts.' : 'shared_expert.';
    tensors.push(...gatedMlp(`${block}${shared}`, h, ceilDiv(moe.sharedIntermediate, tp)));
  }
  if (moe.sharedExpertGate) tensors.push(plain(`${block}shared_expert_gate`, h));
  return tensors;
}

/** The tensors of decoder layer `layer` on one GPU. */
export function layerTensors(shape: ModelShape, layer: number, tp: number): Tensor[] {
  const p = `${shape.textPrefix}layers.${layer}.`;
  return [...attention(shape, p, tp), ...mlp(shape, p, layer, tp), plain(`${p}norms`, shape.normsPerLayer * shape.hiddenSize)];
}

/** vLLM's get_pp_indices: an even split, the remainder going to the stages just before the last. */
export function stageLayers(layers: number, pp: number): [start: number, end: number][] {
  const sizes = Array<number>(pp).fill(Math.floor(layers / pp));
  for (let i = 2; i < (layers % pp) + 2; i++) sizes[pp - i]! += 1;
  let start = 0;
  return sizes.map((n) => [start, (start += n)] as [number, number]);
}

/**
 * Everything one GPU of pipeline stage `stage` holds: its layers, plus the embeddings and vision
 * tower (first stage) or lm_head and final norm (last stage). Embeddings and lm_head are split over TP
 * as vLLM's vocab-parallel layers are, the vocabulary padded to `vocab` rows; a tied lm_head costs
 * nothing extra when one stage holds both. The vision tower's linears are TP-split in vLLM; it is
 * counted split as a whole.
 */
export function stageTensors(shape: ModelShape, tp: number, pp: number, stage: number, vocab: number): Tensor[] {
  const [start, end] = stageLayers(shape.layers, pp)[stage]!;
  const tensors: Tensor[] = [];
  for (let i = start; i < end; i++) tensors.push(...layerTensors(shape, i, tp));
  const vocabSlice = ceilDiv(vocab, tp);
  const h = shape.hiddenSize;
  if (stage === 0) {
    tensors.push(plain(`${shape.textPrefix}embed_tokens`, vocabSlice * h));
    if (shape.vision) tensors.push(plain(shape.vision.prefix, ceilDiv(shape.vision.parameters, tp)));
  }
  if (stage === pp - 1) {
    if (pp > 1 || !shape.tiedEmbeddings) tensors.push(linear('lm_head', h, vocabSlice));
    tensors.push(plain(`${shape.textPrefix}norm`, h));
  }
  return tensors;
}
