import fs from 'node:fs';
import path from 'node:path';
import { readGgufModel, type GgufModel } from '../estimator';
import { DomainError } from '../../core/errors';

/** What the estimator reads for a version: its Hugging Face config.json, or the GGUF file's header. */
export function loadModelConfig(version: { format: string; location: string }): unknown | GgufModel {
  if (version.format === 'gguf') return readGgufModel(version.location);
  const file = path.join(version.location, 'config.json');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch (e) {
    throw new DomainError('BAD_REQUEST', `cannot read ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}
