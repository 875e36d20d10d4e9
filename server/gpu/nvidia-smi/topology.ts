import type { Topology } from '../types';
import { NvidiaSmiParseError } from './csv';

// Terminal colour codes: recent drivers wrap the header of `topo -m` in them when writing to a tty.
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const DEVICE = /^(GPU\d+|NIC\d+)$/;
const TRAILING_COLUMNS = ['CPU Affinity', 'NUMA Affinity', 'GPU NUMA ID'] as const;

function numaValue(token: string | undefined): number | null {
  if (token === undefined || !/^\d+$/.test(token)) return null;
  return Number(token);
}

/**
 * Parses `nvidia-smi topo -m`: the matrix of how each GPU (and NIC) reaches each other one, plus each
 * GPU's CPU and NUMA affinity. Columns may be aligned with tabs or spaces; the legend is ignored.
 */
export function parseTopology(text: string): Topology {
  const lines = text.replace(ANSI, '').replace(/\r/g, '').split('\n');
  const headerAt = lines.findIndex((line) => /^\s+GPU0\b/.test(line));
  if (headerAt < 0) throw new NvidiaSmiParseError('topo -m: no header line with GPU0 found');
  const header = lines[headerAt]!;
  const devices = header.trim().split(/\s+/).filter((token) => DEVICE.test(token));
  // Which of the affinity columns this driver prints, in the order it prints them.
  const trailing = TRAILING_COLUMNS.filter((name) => header.includes(name)).sort((a, b) => header.indexOf(a) - header.indexOf(b));

  const links: string[][] = [];
  const numaNode: (number | null)[] = [];
  const cpuAffinity: (string | null)[] = [];
  for (const line of lines.slice(headerAt + 1)) {
    if (/^\s*(NIC )?Legend\b/i.test(line)) break;
    const tokens = line.trim().split(/\s+/);
    const name = tokens[0];
    if (!name || !DEVICE.test(name) || /^\s/.test(line)) continue;
    const row = tokens.slice(1, 1 + devices.length);
    if (row.length !== devices.length) {
      throw new NvidiaSmiParseError(`topo -m: row ${name} has ${row.length} link columns, expected ${devices.length}`);
    }
    if (devices[links.length] !== name) throw new NvidiaSmiParseError(`topo -m: row ${name} where ${devices[links.length] ?? 'no row'} was expected`);
    links.push(row);
    if (name.startsWith('GPU')) {
      // Tabs leave empty cells (a GPU without a NUMA ID prints "\t\tN/A"); splitting on whitespace drops them.
      const rest = tokens.slice(1 + devices.length);
      const column = (title: (typeof TRAILING_COLUMNS)[number]) => {
        const at = trailing.indexOf(title);
        return at < 0 ? undefined : rest[at];
      };
      const cpu = column('CPU Affinity');
      cpuAffinity.push(cpu === undefined || cpu === 'N/A' ? null : cpu);
      numaNode.push(numaValue(column('NUMA Affinity')));
    }
  }
  if (links.length !== devices.length) {
    throw new NvidiaSmiParseError(`topo -m: ${links.length} rows for ${devices.length} devices (${devices.join(', ')})`);
  }
  return { devices, links, numaNode, cpuAffinity };
}

/** The GPU-only part of the matrix (NIC rows and columns left out), for the planner. */
export function gpuLinks(topology: Topology): string[][] {
  const gpuColumns = topology.devices.map((d, i) => (d.startsWith('GPU') ? i : -1)).filter((i) => i >= 0);
  return gpuColumns.map((i) => gpuColumns.map((j) => topology.links[i]![j]!));
}
