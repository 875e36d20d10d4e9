import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real nvidia-smi captures beside the repository (see ../shared/fixtures/nvidia-smi/SOURCES.md); for tests. */
export const NVIDIA_SMI_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/fixtures/nvidia-smi');

export function nvidiaSmiFixture(relative: string): string {
  return fs.readFileSync(path.join(NVIDIA_SMI_FIXTURES, relative), 'utf8');
}
