import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { BUNDLED_MODELS_DIR, modelsDirFor } from './models-dir-default';

test('unset, the agent serves the repository’s models/: the demo model, intact, with its licence beside it', () => {
  expect(modelsDirFor({})).toBe(BUNDLED_MODELS_DIR);
  const file = path.join(BUNDLED_MODELS_DIR, 'stories260K.gguf');
  // The checksum models/README.md and models/LICENSE state: a clone with a truncated or LFS-pointer file fails here.
  expect(createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe('270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
  expect(fs.readFileSync(path.join(BUNDLED_MODELS_DIR, 'LICENSE'), 'utf8')).toContain('MIT License');
});

test('a named directory wins, and `none` serves nothing', () => {
  expect(modelsDirFor({ ENCLAVE_MODELS_DIR: '/srv/models' })).toBe('/srv/models');
  expect(modelsDirFor({ ENCLAVE_MODELS_DIR: 'none' })).toBeUndefined();
});
