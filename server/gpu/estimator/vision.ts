import { EstimatorInputError, isObject, positiveInt, type Config } from './fields';
import type { VisionShape } from './shape';

const WHERE = 'config.json vision_config';

/** One ViT encoder layer with LayerNorms and biased linears: 2 norms, q/k/v/o, a 2-layer MLP. */
const vitLayer = (h: number, i: number) => 2 * 2 * h + 4 * (h * h + h) + (h * i + i) + (i * h + h);

/**
 * Gemma 3's SigLIP tower (transformers' SiglipVisionModel without its pooling head) and the
 * multi-modal projector: a Conv2d patch embedding with bias, one learned position per patch, the
 * encoder layers, a post LayerNorm; the projector is a (vision_hidden x text_hidden) matrix after an
 * RMSNorm. Gemma 3's report gives the tower as 417M parameters.
 */
export function siglipTower(config: Config, textHidden: number): VisionShape {
  const vision = requireVisionConfig(config);
  const h = positiveInt(vision, 'hidden_size', undefined, WHERE);
  const i = positiveInt(vision, 'intermediate_size', undefined, WHERE);
  const layers = positiveInt(vision, 'num_hidden_layers', undefined, WHERE);
  const patch = positiveInt(vision, 'patch_size', undefined, WHERE);
  const image = positiveInt(vision, 'image_size', undefined, WHERE);
  const channels = positiveInt(vision, 'num_channels', 3, WHERE);
  if (vision.vision_use_head === true) throw new EstimatorInputError(`${WHERE}: vision_use_head is true; the memory estimator knows SigLIP towers without their pooling head`);
  const embeddings = channels * patch * patch * h + h + (image / patch) ** 2 * h;
  const tower = embeddings + layers * vitLayer(h, i) + 2 * h;
  const projector = h * textHidden + h;
  return { kind: 'SigLIP', parameters: tower + projector, tower, prefix: 'vision_tower' };
}

/**
 * Qwen2-VL and Qwen2.5-VL's ViT (transformers' Qwen2VisionTransformerPretrainedModel and its 2.5
 * successor): a bias-free Conv3d patch embedding over temporal_patch_size x patch_size², blocks with a
 * biased fused qkv and proj, then a PatchMerger (a norm, and a 2-layer MLP from
 * spatial_merge_size² x width to the text width). Qwen2-VL blocks use LayerNorms and a fc1/fc2 MLP of
 * mlp_ratio x embed_dim; Qwen2.5-VL blocks use RMSNorms and a gated MLP of intermediate_size.
 */
export function qwenVisionTower(config: Config, version: 'qwen2_vl' | 'qwen2_5_vl', textHidden: number): VisionShape {
  const vision = requireVisionConfig(config);
  const v25 = version === 'qwen2_5_vl';
  const h = positiveInt(vision, v25 ? 'hidden_size' : 'embed_dim', undefined, WHERE);
  const depth = positiveInt(vision, 'depth', undefined, WHERE);
  const channels = positiveInt(vision, vision.in_channels !== undefined ? 'in_channels' : 'in_chans', 3, WHERE);
  const patch = positiveInt(vision, 'patch_size', 14, WHERE);
  const temporal = positiveInt(vision, 'temporal_patch_size', 2, WHERE);
  const merge = positiveInt(vision, 'spatial_merge_size', 2, WHERE);
  const out = v25 ? positiveInt(vision, 'out_hidden_size', textHidden, WHERE) : positiveInt(vision, 'hidden_size', textHidden, WHERE);
  const norm = v25 ? h : 2 * h;
  const mlp = v25
    ? (() => {
        const i = positiveInt(vision, 'intermediate_size', undefined, WHERE);
        return 2 * (h * i + i) + (i * h + h);
      })()
    : (() => {
        const i = h * positiveInt(vision, 'mlp_ratio', 4, WHERE);
        return h * i + i + (i * h + h);
      })();
  const block = 2 * norm + (h * 3 * h + 3 * h) + (h * h + h) + mlp;
  const merged = h * merge * merge;
  const merger = norm + (merged * merged + merged) + (merged * out + out);
  const tower = channels * temporal * patch * patch * h + depth * block;
  return { kind: v25 ? 'Qwen2.5-VL ViT' : 'Qwen2-VL ViT', parameters: tower + merger, tower, prefix: 'visual' };
}

function requireVisionConfig(config: Config): Config {
  if (!isObject(config.vision_config)) throw new EstimatorInputError(`${WHERE} is missing: a vision-language model's tower cannot be counted without it`);
  return config.vision_config;
}
