import fs from 'node:fs/promises';
import os from 'node:os';
import { z } from 'zod';
import type { NodeHost } from '../../db/schema';

/**
 * What a node's agent reports about the host itself with each heartbeat: CPU, memory and the disk
 * that holds the data directory (models, outputs). A CPU-only node has no GPU sample, and the GPU
 * page drew nothing for it; these figures are what it shows instead (and beside the GPUs elsewhere).
 */
export const hostStatsSchema = z.object({
  cpuCores: z.number().int().min(1).max(4096),
  cpuModel: z.string().max(200).nullable(),
  /** 1-minute load average (0 where the OS has none, e.g. Windows). */
  load1: z.number().min(0).max(1e6),
  memoryTotalBytes: z.number().int().min(0),
  memoryAvailableBytes: z.number().int().min(0),
  diskPath: z.string().max(1000),
  diskTotalBytes: z.number().int().min(0).nullable(),
  diskFreeBytes: z.number().int().min(0).nullable(),
}) satisfies z.ZodType<NodeHost>;
export type HostStats = NodeHost;

/** The host's figures now; `dataDir` names the disk reported (the one the node fills). */
export async function readHostStats(dataDir: string): Promise<HostStats> {
  const cpus = os.cpus();
  let diskTotalBytes: number | null = null;
  let diskFreeBytes: number | null = null;
  try {
    const s = await fs.statfs(dataDir);
    diskTotalBytes = s.blocks * s.bsize;
    diskFreeBytes = s.bavail * s.bsize; // what an unprivileged process may still write
  } catch {
    // the directory is not there yet (first start): the disk is reported once it is
  }
  return {
    cpuCores: Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length),
    cpuModel: cpus[0]?.model.trim().slice(0, 200) || null,
    load1: Math.round(os.loadavg()[0]! * 100) / 100,
    memoryTotalBytes: os.totalmem(),
    memoryAvailableBytes: await availableMemory(),
    diskPath: dataDir,
    diskTotalBytes,
    diskFreeBytes,
  };
}

/** MemAvailable on Linux (free counts page cache as used, which overstates pressure); os.freemem elsewhere. */
async function availableMemory(): Promise<number> {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(await fs.readFile('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}
