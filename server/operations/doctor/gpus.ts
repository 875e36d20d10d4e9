import { NO_NVIDIA_SMI_NOTE, readInventory, type RunNvidiaSmi } from '../../gpu/inventory';
import { fail, ok, warn, type CheckResult } from './types';

/**
 * The GPUs the agent would report, read the agent's way (nvidia-smi, the same parsers). No nvidia-smi is a
 * CPU host (a warning: only llama.cpp can serve there); an nvidia-smi that fails is a broken driver.
 */
export async function checkGpus(run?: RunNvidiaSmi): Promise<CheckResult & { count: number }> {
  const inventory = await readInventory(run ? { run } : {});
  const count = inventory.gpus.length;
  if (inventory.note === NO_NVIDIA_SMI_NOTE) {
    return { count, ...warn('gpus', 'no NVIDIA GPU (nvidia-smi not found): only llama.cpp on the CPU can serve on this host', 'On a GPU host, install the NVIDIA driver (it brings nvidia-smi)') };
  }
  if (inventory.gpus.length === 0) {
    return { count, ...fail('gpus', `nvidia-smi is installed but lists no usable GPU: ${inventory.note ?? 'no GPUs'}`, 'Check the driver: the kernel module loaded and matching the user-space library (reboot after a driver upgrade), and the GPUs visible to this container') };
  }
  const byName = new Map<string, number>();
  for (const g of inventory.gpus) byName.set(g.name ?? 'unnamed GPU', (byName.get(g.name ?? 'unnamed GPU') ?? 0) + 1);
  const names = [...byName].map(([name, n]) => `${n}x ${name}`).join(', ');
  const versions = [inventory.driverVersion && `driver ${inventory.driverVersion}`, inventory.cudaVersion && `CUDA ${inventory.cudaVersion}`].filter(Boolean).join(', ');
  const detail = `${names}${versions ? ` (${versions})` : ''}`;
  if (inventory.note) return { count, ...warn('gpus', `${detail}; ${inventory.note}`, 'Topology or process listing failed: placement works, but without NVLink figures or foreign processes') };
  return { count, ...ok('gpus', detail) };
}
