import { positiveInt, type Config } from './fields';
import type { QuantScheme } from './quantization';

/** A mixture-of-experts MLP: every routed expert is resident, whichever few a token uses. */
export interface MoeShape {
  experts: number;
  expertIntermediate: number;
  /** Summed width of the always-on shared expert(s) (Qwen2-MoE, DeepSeek); 0 without one. */
  sharedIntermediate: number;
  /** Qwen2-MoE scales its shared expert by a Linear(hidden, 1). */
  sharedExpertGate: boolean;
  /** DeepSeek-V3's noaux_tc routing keeps a float per expert (e_score_correction_bias). */
  routerBias: boolean;
  /** Per decoder layer: true where the MLP is the MoE block, false where it is the dense MLP of intermediateSize. */
  moeLayers: boolean[];
}

/** DeepSeek's multi-head latent attention: keys and values come from one compressed latent. */
export interface MlaShape {
  qLoraRank: number | null;
  kvLoraRank: number;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
}

export interface VisionShape {
  /** Which tower ("SigLIP"...), for the explanation. */
  kind: string;
  /** Tower and projector parameters (the projector maps image features into the text model). */
  parameters: number;
  /** The encoder alone, the figure model reports quote. */
  tower: number;
  /** The checkpoint prefix of the tower, matched against quantization skip lists. */
  prefix: string;
}

/** The numbers of a decoder-only transformer that decide its memory, read from a Hugging Face config.json. */
export interface ModelShape {
  architecture: string;
  layers: number;
  hiddenSize: number;
  /** Width of the dense MLP (for MoE models: of the layers that are not MoE). */
  intermediateSize: number;
  attentionHeads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  tiedEmbeddings: boolean;
  /** q/k/v projections carry a bias (Qwen2). */
  qkvBias: boolean;
  /** 1 for a dense model; the routed expert count for MoE. */
  experts: number;
  moe: MoeShape | null;
  mla: MlaShape | null;
  /** Hidden-size norms per decoder layer: 2 (Llama), 4 (Gemma 2/3 add pre/post feed-forward norms). */
  normsPerLayer: number;
  /** Per-head q and k RMSNorms (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** Per decoder layer: attends to every earlier token, or only to the last `slidingWindow`. */
  layerAttention: ('full' | 'sliding')[];
  slidingWindow: number | null;
  vision: VisionShape | null;
  /** Where decoder layers sit in the checkpoint ("model.", "language_model.model."), for quantization skip lists. */
  textPrefix: string;
  /** The dtype the checkpoint was saved in ("bfloat16"...); null when the config does not say. */
  torchDtype: string | null;
  maxPositionEmbeddings: number | null;
  /** A pre-quantized checkpoint's `quantization_config`, read. */
  quantization: QuantScheme | null;
}

/** What every family reads the same way; a family then adds or overrides what it knows. */
export function baseShape(config: Config, architecture: string): ModelShape {
  const hiddenSize = positiveInt(config, 'hidden_size');
  const attentionHeads = positiveInt(config, 'num_attention_heads');
  const layers = positiveInt(config, 'num_hidden_layers');
  return {
    architecture,
    layers,
    hiddenSize,
    intermediateSize: positiveInt(config, 'intermediate_size'),
    attentionHeads,
    // Older configs (Llama 1/2 7B) omit it: every head has its own keys and values.
    kvHeads: positiveInt(config, 'num_key_value_heads', attentionHeads),
    headDim: config.head_dim == null ? hiddenSize / attentionHeads : positiveInt(config, 'head_dim'),
    vocabSize: positiveInt(config, 'vocab_size'),
    tiedEmbeddings: config.tie_word_embeddings === true,
    qkvBias: config.attention_bias === true,
    experts: 1,
    moe: null,
    mla: null,
    normsPerLayer: 2,
    qkNorm: false,
    layerAttention: Array(layers).fill('full'),
    slidingWindow: null,
    vision: null,
    textPrefix: 'model.',
    torchDtype: typeof config.torch_dtype === 'string' ? config.torch_dtype : typeof config.dtype === 'string' ? config.dtype : null,
    maxPositionEmbeddings: typeof config.max_position_embeddings === 'number' ? config.max_position_embeddings : null,
    quantization: null,
  };
}
