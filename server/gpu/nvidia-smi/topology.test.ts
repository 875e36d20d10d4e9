import { describe, expect, test } from 'vitest';
import { nvidiaSmiFixture } from './fixtures';
import { gpuLinks, NvidiaSmiParseError, parseTopology } from '.';

const a100 = nvidiaSmiFixture('topo/8x-a100-sxm4-40gb-nv12.txt');
const rtx4090 = nvidiaSmiFixture('topo/8x-rtx4090-pcie-with-nics.txt');
const gpus = Array.from({ length: 8 }, (_, i) => `GPU${i}`);

describe('real captures', () => {
  test('8x A100 SXM4 (p4d.24xlarge): NV12 everywhere, two NUMA nodes, legend ignored', () => {
    const t = parseTopology(a100);
    expect(t.devices).toEqual(gpus);
    expect(t.links).toHaveLength(8);
    t.links.forEach((row, i) => row.forEach((link, j) => expect(link).toBe(i === j ? 'X' : 'NV12')));
    expect(t.numaNode).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(t.cpuAffinity).toEqual([...Array(4).fill('0-23,48-71'), ...Array(4).fill('24-47,72-95')]);
  });

  test('8x RTX 4090 over PCIe with two NIC rows', () => {
    const t = parseTopology(rtx4090);
    expect(t.devices).toEqual([...gpus, 'NIC0', 'NIC1']);
    expect(t.links).toHaveLength(10);
    expect(t.links[0]).toEqual(['X', 'SYS', 'SYS', 'SYS', 'SYS', 'SYS', 'SYS', 'SYS', 'SYS', 'SYS']);
    expect(t.links[6]).toEqual(['SYS', 'SYS', 'SYS', 'SYS', 'SYS', 'SYS', 'X', 'SYS', 'PHB', 'PHB']);
    expect(t.links[8]).toEqual(['SYS', 'SYS', 'SYS', 'SYS', 'SYS', 'SYS', 'PHB', 'SYS', 'X', 'PIX']);
    expect(t.links[9]![8]).toBe('PIX');
    expect(t.numaNode).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(t.cpuAffinity![7]).toBe('56-111,168-223');
    // The planner's view leaves the NICs out.
    expect(gpuLinks(t)).toHaveLength(8);
    expect(gpuLinks(t).every((row) => row.length === 8)).toBe(true);
  });
});

describe('synthetic variants', () => {
  test('spaces instead of tabs give the same matrix', () => {
    const spaced = a100.replace(/\t/g, '   ');
    expect(parseTopology(spaced)).toEqual(parseTopology(a100));
    expect(parseTopology(rtx4090.replace(/\t/g, ' '))).toEqual(parseTopology(rtx4090));
  });

  test('ANSI escapes around the header and a NIC legend', () => {
    const [header, ...rest] = rtx4090.split('\n');
    const coloured = [`\x1b[4m${header}\x1b[0m`, ...rest].join('\n') + '\n\nLegend:\n\n  X    = Self\n\nNIC Legend:\n\n  NIC0: mlx5_0\n  NIC1: mlx5_1\n';
    expect(parseTopology(coloured)).toEqual(parseTopology(rtx4090));
  });

  test('no NUMA information: nulls, not NaN', () => {
    const t = parseTopology('\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\nGPU0\t X \tNV4\tN/A\tN/A\nGPU1\tNV4\t X \tN/A\tN/A\n');
    expect(t).toEqual({ devices: ['GPU0', 'GPU1'], links: [['X', 'NV4'], ['NV4', 'X']], numaNode: [null, null], cpuAffinity: [null, null] });
    // A single-GPU host prints a 1x1 matrix.
    expect(parseTopology('\tGPU0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\nGPU0\t X \t0-15\t0\t\tN/A\n').numaNode).toEqual([0]);
  });

  test('garbage is a clear error', () => {
    expect(() => parseTopology('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.')).toThrow(NvidiaSmiParseError);
    expect(() => parseTopology('\tGPU0\tGPU1\nGPU0\t X \tNV4\n')).toThrow(/1 rows for 2 devices/);
    expect(() => parseTopology('\tGPU0\tGPU1\nGPU0\t X\nGPU1\tNV4\t X\n')).toThrow(/row GPU0 has 1 link columns, expected 2/);
  });
});
