import type { GpuInfo } from '../types';
import { numberValue, pick, readCsv, stringValue } from './csv';

/** The fields `readInventory` asks for; also the list to pass with `noheader` output of the same query. */
export const INVENTORY_QUERY_FIELDS = [
  'index',
  'name',
  'uuid',
  'memory.total',
  'memory.used',
  'utilization.gpu',
  'temperature.gpu',
  'power.draw',
  'driver_version',
  'mig.mode.current',
] as const;

/** Columns worth keeping beside the core ones: what the agent reports and the planner or UI may show. */
const EXTRA_FIELDS = [
  'driver_version',
  'cuda_version',
  'pci.bus_id',
  'compute_cap',
  'serial',
  'vbios_version',
  'pstate',
  'persistence_mode',
  'compute_mode',
  'ecc.mode.current',
  'memory.free',
  'memory.reserved',
  'utilization.memory',
  'fan.speed',
  'temperature.memory',
  'power.limit',
  'clocks.current.sm',
  'clocks.max.sm',
  'mig.mode.current',
  'mig.mode.pending',
] as const;

// Numbers whose header carries no unit (degrees C); every other unitless column stays a string ("9.0" compute_cap).
const UNITLESS_NUMBERS = new Set(['temperature.memory']);

export interface ParseQueryGpuOptions {
  /** The `--query-gpu` field list, for `--format=csv,noheader` output (which names no columns). */
  fields?: readonly string[];
}

function migState(row: Record<string, string>, uuid: string | null): GpuInfo['mig'] {
  // A MIG device's own UUID starts with "MIG-": it is a slice, not a whole GPU.
  if (uuid?.startsWith('MIG-')) return { enabled: true, parentUuid: stringValue(pick(row, 'gpu_uuid', 'parent_uuid')) ?? null };
  const mode = stringValue(row['mig.mode.current']);
  if (mode === null) return null;
  return { enabled: mode.toLowerCase() === 'enabled' };
}

/**
 * Parses `nvidia-smi --query-gpu=<fields> --format=csv[,noheader][,nounits]`. Columns are matched by
 * name, values with or without units; missing markers become null. Without an `index` column, a row's
 * index is its position: nvidia-smi lists GPUs in index order.
 */
export function parseQueryGpu(text: string, options: ParseQueryGpuOptions = {}): GpuInfo[] {
  const table = readCsv(text, options.fields ? [...options.fields] : undefined);
  return table.rows.map((row, position) => {
    const uuid = stringValue(pick(row, 'uuid', 'gpu_uuid'));
    const extra: Record<string, string | number | null> = {};
    for (const field of EXTRA_FIELDS) {
      if (!(field in row)) continue;
      const numeric = table.hasUnit[table.fields.indexOf(field)] || UNITLESS_NUMBERS.has(field);
      extra[field] = numeric ? numberValue(row[field]) : stringValue(row[field]);
    }
    const info: GpuInfo = {
      index: numberValue(row.index) ?? position,
      name: stringValue(pick(row, 'name', 'gpu_name')),
      uuid,
      memoryTotalMiB: numberValue(row['memory.total']),
      memoryUsedMiB: numberValue(row['memory.used']),
      utilizationPct: numberValue(row['utilization.gpu']),
      temperatureC: numberValue(row['temperature.gpu']),
      powerW: numberValue(pick(row, 'power.draw', 'power.draw.average', 'power.draw.instant')),
      extra,
    };
    const mig = migState(row, uuid);
    if (mig) info.mig = mig;
    return info;
  });
}

/** The driver and CUDA versions the GPUs report (the same on every GPU of a host), when the query asked for them. */
export function hostVersions(gpus: GpuInfo[]): { driverVersion: string | null; cudaVersion: string | null } {
  const first = (key: string) => {
    for (const gpu of gpus) {
      const value = gpu.extra?.[key];
      if (value !== null && value !== undefined) return String(value);
    }
    return null;
  };
  return { driverVersion: first('driver_version'), cudaVersion: first('cuda_version') };
}
