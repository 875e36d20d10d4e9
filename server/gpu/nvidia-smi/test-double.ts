import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NVIDIA_SMI_FIXTURES } from './fixtures';

/**
 * A test double for the NVIDIA driver: an executable named `nvidia-smi` in a temp folder that answers
 * the calls `readInventory` makes by printing real captures. Put its folder first on PATH.
 */
export interface NvidiaSmiDouble {
  dir: string;
  remove(): void;
}

export function writeNvidiaSmiDouble(options: {
  query?: string;
  topo?: string;
  apps?: string;
  /** Makes every call fail like a host whose driver and library disagree. */
  failWith?: { message: string; exitCode: number };
}): NvidiaSmiDouble {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-nvidia-smi-double-'));
  const cat = (relative: string | undefined) => (relative ? `cat '${path.join(NVIDIA_SMI_FIXTURES, relative)}'` : 'exit 6');
  const script = options.failWith
    ? `#!/bin/sh\necho '${options.failWith.message}'\nexit ${options.failWith.exitCode}\n`
    : `#!/bin/sh
PATH=/usr/bin:/bin
case "$1" in
  --query-gpu=*) ${cat(options.query)} ;;
  --query-compute-apps=*) ${cat(options.apps)} ;;
  topo) ${cat(options.topo)} ;;
  '') printf '| NVIDIA-SMI 590.48.01    Driver Version: 590.48.01    CUDA Version: 13.1 |\\n' ;;
  *) echo "double: unexpected arguments $*" >&2; exit 2 ;;
esac
`;
  fs.writeFileSync(path.join(dir, 'nvidia-smi'), script, { mode: 0o755 });
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
