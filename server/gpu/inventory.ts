import { execa } from 'execa';
import {
  COMPUTE_APPS_FIELDS,
  hostVersions,
  INVENTORY_QUERY_FIELDS,
  parseComputeApps,
  parseQueryGpu,
  parseTopology,
} from './nvidia-smi';
import type { Inventory } from './types';

/** What running nvidia-smi with some arguments gave: its output, or why it did not run. */
export interface NvidiaSmiResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Set when the executable could not be started at all (ENOENT: not installed). */
  errorCode?: string;
}

export type RunNvidiaSmi = (args: string[]) => Promise<NvidiaSmiResult>;

// A hung driver can make nvidia-smi wait forever; an agent must keep reporting.
const NVIDIA_SMI_TIMEOUT_MS = 15_000;

export const runNvidiaSmi: RunNvidiaSmi = async (args) => {
  const result = await execa('nvidia-smi', args, { reject: false, timeout: NVIDIA_SMI_TIMEOUT_MS, stripFinalNewline: false });
  const errorCode = (result as { code?: string }).code;
  return { exitCode: result.exitCode ?? null, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), ...(errorCode ? { errorCode } : {}) };
};

export const NO_NVIDIA_SMI_NOTE = 'nvidia-smi not found: this host has no NVIDIA GPUs';

function failureText(r: NvidiaSmiResult): string {
  // nvidia-smi prints its failures ("couldn't communicate with the NVIDIA driver") on stdout.
  return (r.stderr.trim() || r.stdout.trim() || `exit code ${r.exitCode}`).split('\n').slice(0, 3).join(' ');
}

/**
 * This host's GPUs, topology and GPU processes from nvidia-smi. A host without nvidia-smi, or whose
 * nvidia-smi fails (driver/library mismatch, no driver loaded), has zero GPUs and says why in `note`:
 * that is a normal CPU host, not an error. Topology and processes are optional extras: when only
 * they fail, the GPUs are still reported.
 */
export async function readInventory(options: { run?: RunNvidiaSmi } = {}): Promise<Inventory> {
  const run = options.run ?? runNvidiaSmi;
  const query = await run([`--query-gpu=${INVENTORY_QUERY_FIELDS.join(',')}`, '--format=csv,nounits']);
  if (query.errorCode === 'ENOENT') return { gpus: [], topology: null, processes: null, note: NO_NVIDIA_SMI_NOTE };
  if (query.exitCode !== 0) {
    return { gpus: [], topology: null, processes: null, note: `nvidia-smi failed: ${failureText(query)}` };
  }
  let gpus: Inventory['gpus'];
  try {
    gpus = parseQueryGpu(query.stdout);
  } catch (e) {
    return { gpus: [], topology: null, processes: null, note: e instanceof Error ? e.message : String(e) };
  }
  const notes: string[] = [];

  const [apps, topo, summary] = await Promise.all([
    run([`--query-compute-apps=${COMPUTE_APPS_FIELDS.join(',')}`, '--format=csv,nounits']),
    run(['topo', '-m']),
    // Only the plain summary prints the CUDA version the driver supports.
    run([]),
  ]);
  let processes: Inventory['processes'] = null;
  if (apps.exitCode === 0) processes = parseComputeApps(apps.stdout);
  else notes.push(`compute apps unavailable: ${failureText(apps)}`);
  let topology: Inventory['topology'] = null;
  if (topo.exitCode === 0 && gpus.length > 0) {
    try {
      topology = parseTopology(topo.stdout);
    } catch (e) {
      notes.push(e instanceof Error ? e.message : String(e));
    }
  } else if (topo.exitCode !== 0) notes.push(`topology unavailable: ${failureText(topo)}`);

  const versions = hostVersions(gpus);
  const cudaVersion = versions.cudaVersion ?? (summary.exitCode === 0 ? (/CUDA Version:\s*([\d.]+)/.exec(summary.stdout)?.[1] ?? null) : null);
  if (gpus.length === 0) notes.unshift('nvidia-smi lists no GPUs');
  return {
    gpus,
    topology,
    processes,
    driverVersion: versions.driverVersion,
    cudaVersion,
    ...(notes.length ? { note: notes.join('; ') } : {}),
  };
}
