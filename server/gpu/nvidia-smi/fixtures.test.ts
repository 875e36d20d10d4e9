import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { NVIDIA_SMI_FIXTURES, nvidiaSmiFixture } from './fixtures';
import { parseComputeApps, parseQueryGpu, parseTopology } from '.';

// A capture added later is parsed too, not silently skipped: each folder names the command it came from.
const parsers: Record<string, (text: string) => unknown[]> = {
  'query-gpu': parseQueryGpu,
  'compute-apps': parseComputeApps,
  topo: (text) => parseTopology(text).devices,
};

test('every capture in the fixtures folder parses to at least one row', () => {
  const folders = fs.readdirSync(NVIDIA_SMI_FIXTURES, { withFileTypes: true }).filter((e) => e.isDirectory());
  expect(folders.map((f) => f.name).sort()).toEqual(Object.keys(parsers).sort());
  let files = 0;
  for (const folder of folders) {
    for (const file of fs.readdirSync(path.join(NVIDIA_SMI_FIXTURES, folder.name))) {
      expect(parsers[folder.name]!(nvidiaSmiFixture(`${folder.name}/${file}`)).length, file).toBeGreaterThan(0);
      files++;
    }
  }
  expect(files).toBe(5);
});
