import { architectureReader, knownArchitectures } from './families';
import { EstimatorInputError, isObject, type Config } from './fields';
import { quantizationFromConfig } from './quantization';
import { baseShape, type ModelShape } from './shape';

/**
 * Reads a config.json. The architecture picks the reader; an architecture the estimator has not been
 * taught, or a field its family cannot account for, is refused by name rather than guessed at.
 */
export function shapeFromHfConfig(raw: unknown): ModelShape {
  if (!isObject(raw)) throw new EstimatorInputError('config.json must be a JSON object');
  // Multimodal wrappers keep the language model's numbers under text_config; the outer keys
  // (architectures, vision_config, quantization_config) still describe the whole checkpoint.
  const text = isObject(raw.text_config) ? raw.text_config : {};
  const config: Config = { ...text, ...raw, ...pickShapeKeys(text) };
  const architecture = Array.isArray(raw.architectures) && typeof raw.architectures[0] === 'string' ? raw.architectures[0] : null;
  const read = architectureReader(architecture, typeof raw.model_type === 'string' ? raw.model_type : null);
  if (!read) {
    // A named architecture it was not taught is the reason, whatever else the config lacks (Mamba has no
    // attention heads); without a name, a config missing the generic fields says so first.
    if (architecture) {
      throw new EstimatorInputError(`config.json: architecture ${architecture} is not one the memory estimator has been taught (known: ${knownArchitectures().join(', ')}); refusing to guess its memory`);
    }
    baseShape(config, 'unknown');
    throw new EstimatorInputError('config.json names no architecture (`architectures` or `model_type`): the memory estimator cannot tell which shape to read');
  }
  const shape = read(config, raw);
  shape.quantization = quantizationFromConfig(raw.quantization_config);
  return shape;
}

// A text_config's own numbers win over same-named outer keys (Gemma 3's outer config has none, but
// a wrapper may carry a defaulted copy).
function pickShapeKeys(text: Config): Config {
  const { architectures: _a, quantization_config: _q, vision_config: _v, ...rest } = text;
  return rest;
}
