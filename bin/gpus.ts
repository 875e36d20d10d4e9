import { readInventory } from '../server/gpu/inventory';
import { parseComputeApps, parseQueryGpu, parseTopology } from '../server/gpu/nvidia-smi';
import type { GpuInfo, GpuProcess, Inventory, Topology } from '../server/gpu/types';
import { options, readFlagFile, required } from './args';

/** The documented JSON of `enclave gpus`: fixed keys in a fixed order, null where the input has no value. */
function printable(gpus: GpuInfo[], topology: Topology | null, processes: GpuProcess[] | null) {
  return {
    gpus: gpus.map((g) => ({
      index: g.index,
      name: g.name,
      uuid: g.uuid,
      memoryTotalMiB: g.memoryTotalMiB,
      memoryUsedMiB: g.memoryUsedMiB,
      utilizationPct: g.utilizationPct,
      temperatureC: g.temperatureC,
      powerW: g.powerW,
    })),
    topology: topology && { devices: topology.devices, links: topology.links, numaNode: topology.numaNode },
    processes: processes && processes.map((p) => ({ gpuUuid: p.gpuUuid, pid: p.pid, name: p.name, usedMiB: p.usedMiB })),
  };
}

/** `enclave gpus parse --query FILE [--topo FILE] [--apps FILE]`: parses captured nvidia-smi output. */
export async function gpusParseCommand(args: string[]): Promise<number> {
  const { values } = options(args, ['query', 'topo', 'apps']);
  const query = readFlagFile(required(values.query, '--query'), '--query');
  const topo = values.topo === undefined ? null : readFlagFile(values.topo, '--topo');
  const apps = values.apps === undefined ? null : readFlagFile(values.apps, '--apps');
  const out = printable(parseQueryGpu(query), topo === null ? null : parseTopology(topo), apps === null ? null : parseComputeApps(apps));
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  return 0;
}

/** `enclave gpus`: the same JSON for this machine, read live from nvidia-smi, with why there are none when there are none. */
export async function gpusCommand(args: string[]): Promise<number> {
  options(args, []);
  const inventory: Inventory = await readInventory();
  const out = {
    ...printable(inventory.gpus, inventory.topology, inventory.processes),
    driverVersion: inventory.driverVersion ?? null,
    cudaVersion: inventory.cudaVersion ?? null,
    ...(inventory.note ? { note: inventory.note } : {}),
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  return 0;
}
