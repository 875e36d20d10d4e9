import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { NO_NVIDIA_SMI_NOTE, readInventory } from './inventory';
import { writeNvidiaSmiDouble, type NvidiaSmiDouble } from './nvidia-smi/test-double';

const originalPath = process.env.PATH;
let double: NvidiaSmiDouble | undefined;
afterEach(() => {
  process.env.PATH = originalPath;
  double?.remove();
  double = undefined;
});

test('a host without nvidia-smi has zero GPUs and says so', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-no-nvidia-smi-'));
  process.env.PATH = empty;
  try {
    expect(await readInventory()).toEqual({ gpus: [], topology: null, processes: null, note: NO_NVIDIA_SMI_NOTE });
  } finally {
    fs.rmSync(empty, { recursive: true });
  }
});

test('an H100 host through the nvidia-smi double: GPUs, processes, topology, driver and CUDA versions', async () => {
  double = writeNvidiaSmiDouble({
    query: 'query-gpu/h100-80gb-mig-driver590.csv',
    apps: 'compute-apps/h100-80gb-three-processes.csv',
    topo: 'topo/8x-a100-sxm4-40gb-nv12.txt',
  });
  process.env.PATH = `${double.dir}:${originalPath}`;
  const inventory = await readInventory();
  expect(inventory.gpus.map((g) => [g.name, g.memoryTotalMiB, g.mig])).toEqual([['NVIDIA H100 80GB HBM3', 81559, { enabled: true }]]);
  expect(inventory.processes!.map((p) => p.pid)).toEqual([21180, 21181, 21198]);
  expect(inventory.topology!.devices).toHaveLength(8);
  expect(inventory.driverVersion).toBe('590.48.01');
  expect(inventory.cudaVersion).toBe('13.1');
  expect(inventory.note).toBeUndefined();
});

test('a failing nvidia-smi (driver/library mismatch) is zero GPUs with its message', async () => {
  double = writeNvidiaSmiDouble({ failWith: { message: 'Failed to initialize NVML: Driver/library version mismatch', exitCode: 18 } });
  process.env.PATH = `${double.dir}:${originalPath}`;
  expect(await readInventory()).toEqual({
    gpus: [],
    topology: null,
    processes: null,
    note: 'nvidia-smi failed: Failed to initialize NVML: Driver/library version mismatch',
  });
});

test('when only topology and processes fail, the GPUs are still reported, with why the rest is missing', async () => {
  double = writeNvidiaSmiDouble({ query: 'query-gpu/tesla-p100-pcie-16gb.csv' });
  process.env.PATH = `${double.dir}:${originalPath}`;
  const inventory = await readInventory();
  expect(inventory.gpus.map((g) => g.name)).toEqual(['Tesla P100-PCIE-16GB']);
  expect(inventory.topology).toBeNull();
  expect(inventory.processes).toBeNull();
  expect(inventory.note).toMatch(/compute apps unavailable.*topology unavailable/);
});

test('an injected runner sees the exact nvidia-smi arguments', async () => {
  const calls: string[][] = [];
  const inventory = await readInventory({
    run: async (args) => {
      calls.push(args);
      return { exitCode: 0, stdout: args[0]?.startsWith('--query-gpu') ? 'index, name\n0, Tesla T4\n' : '', stderr: '' };
    },
  });
  expect(calls[0]).toEqual([
    '--query-gpu=index,name,uuid,memory.total,memory.used,utilization.gpu,temperature.gpu,power.draw,driver_version,mig.mode.current',
    '--format=csv,nounits',
  ]);
  expect(calls.slice(1)).toContainEqual(['topo', '-m']);
  expect(inventory.gpus[0]!.name).toBe('Tesla T4');
  expect(inventory.note).toMatch(/no header line with GPU0/);
});
