import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../core/env';

/** The repository's models/, which ships the demo model (stories260K, MIT: models/README.md). */
export const BUNDLED_MODELS_DIR = path.resolve(import.meta.dirname, '../../models');

/**
 * The directory whose GGUF files the agent registers and deploys. Unset: the bundled models/, so the
 * quickstart (`npm install && npm start`) serves a model from the clone alone; `none`: nothing, for an
 * install that deploys its models through the UI only. A directory that was named but is missing stops
 * the start (registerModelsDir says so); a bundle or image built without models/ simply serves none.
 */
export function modelsDirFor(env: Pick<Env, 'ENCLAVE_MODELS_DIR'>): string | undefined {
  const configured = env.ENCLAVE_MODELS_DIR?.trim();
  if (configured === 'none') return undefined;
  if (configured) return configured;
  return fs.existsSync(BUNDLED_MODELS_DIR) ? BUNDLED_MODELS_DIR : undefined;
}
