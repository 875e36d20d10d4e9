import type { GpuProcess } from '../types';
import { numberValue, pick, readCsv, stringValue } from './csv';

export const COMPUTE_APPS_FIELDS = ['gpu_uuid', 'pid', 'process_name', 'used_gpu_memory'] as const;

/**
 * Parses `nvidia-smi --query-compute-apps=<fields> --format=csv[,noheader][,nounits]`. nvidia-smi
 * accepts two names for some fields (process_name or name, used_gpu_memory or used_memory); both work.
 */
export function parseComputeApps(text: string, options: { fields?: readonly string[] } = {}): GpuProcess[] {
  // Some drivers print this instead of an empty table.
  if (/no running processes found/i.test(text)) return [];
  const table = readCsv(text, options.fields ? [...options.fields] : undefined);
  return table.rows.map((row) => ({
    gpuUuid: stringValue(pick(row, 'gpu_uuid', 'uuid')),
    pid: numberValue(row.pid),
    name: stringValue(pick(row, 'process_name', 'name')),
    usedMiB: numberValue(pick(row, 'used_gpu_memory', 'used_memory')),
  }));
}
