import fs from 'node:fs';
import path from 'node:path';
import { readGgufModel, type GgufModel } from '../estimator';
import { DomainError } from '../../core/errors';

/**
 * What the estimator reads for a version: its Hugging Face config.json, or the GGUF file's header. A job's
 * output whose files are in the artifact store and not on this host: what was recorded of them when the
 * version was registered (model_versions.config), so any worker plans it without a copy.
 */
export function loadModelConfig(version: { format: string; location: string; config?: unknown }): unknown | GgufModel {
  if (version.config !== null && version.config !== undefined && !fs.existsSync(version.location)) return version.config;
  if (version.format === 'gguf') return readGgufModel(version.location);
  const file = path.join(version.location, 'config.json');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new DomainError('BAD_REQUEST', `cannot read ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}
