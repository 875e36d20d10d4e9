import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { NVIDIA_SMI_FIXTURES } from '../server/gpu/nvidia-smi/fixtures';
import { writeNvidiaSmiDouble } from '../server/gpu/nvidia-smi/test-double';

const bin = path.resolve(__dirname, 'enclave.mjs');
const fixture = (relative: string) => path.join(NVIDIA_SMI_FIXTURES, relative);
// No database: these commands must work on a bare machine.
const enclave = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [bin, ...args], { reject: false, env: { DATABASE_URL: '', LOG_LEVEL: 'warn', ...env } });

test('gpus parse prints the documented JSON, with nulls for what the capture lacks', async () => {
  const r = await enclave([
    'gpus', 'parse',
    '--query', fixture('query-gpu/tesla-p100-pcie-16gb.csv'),
    '--topo', fixture('topo/8x-rtx4090-pcie-with-nics.txt'),
    '--apps', fixture('compute-apps/h100-80gb-three-processes.csv'),
  ]);
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(Object.keys(out)).toEqual(['gpus', 'topology', 'processes']);
  expect(out.gpus).toEqual([
    {
      index: 0,
      name: 'Tesla P100-PCIE-16GB',
      uuid: 'GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6',
      memoryTotalMiB: null,
      memoryUsedMiB: 0,
      utilizationPct: 0,
      temperatureC: 37,
      powerW: 28.16,
    },
  ]);
  expect(Object.keys(out.topology)).toEqual(['devices', 'links', 'numaNode']);
  expect(out.topology.devices).toEqual(['GPU0', 'GPU1', 'GPU2', 'GPU3', 'GPU4', 'GPU5', 'GPU6', 'GPU7', 'NIC0', 'NIC1']);
  expect(out.topology.links[6].slice(8)).toEqual(['PHB', 'PHB']);
  expect(out.topology.numaNode).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  expect(out.processes[2]).toEqual({ gpuUuid: 'GPU-00000000-0000-0000-0000-000000000000', pid: 21198, name: './gpu_burn', usedMiB: 7484 });
});

test('gpus parse without --topo and --apps: topology and processes are null', async () => {
  const r = await enclave(['gpus', 'parse', '--query', fixture('query-gpu/h100-80gb-mig-driver590.csv')]);
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.topology).toBeNull();
  expect(out.processes).toBeNull();
  expect(out.gpus[0]).toEqual({
    index: 0,
    name: 'NVIDIA H100 80GB HBM3',
    uuid: 'GPU-00000000-0000-0000-0000-000000000000',
    memoryTotalMiB: 81559,
    memoryUsedMiB: 11125,
    utilizationPct: null,
    temperatureC: 53,
    powerW: 433.78,
  });
});

test('gpus parse: a missing flag, a missing file and a bad capture are clear errors', async () => {
  const noFlag = await enclave(['gpus', 'parse']);
  expect(noFlag.exitCode).toBe(2);
  expect(noFlag.stderr).toMatch(/--query is required/);
  const noFile = await enclave(['gpus', 'parse', '--query', '/nonexistent/query.csv']);
  expect(noFile.exitCode).toBe(2);
  expect(noFile.stderr).toMatch(/--query \/nonexistent\/query.csv: no such file/);
  const badTopo = await enclave(['gpus', 'parse', '--query', fixture('query-gpu/tesla-p100-pcie-16gb.csv'), '--topo', fixture('query-gpu/tesla-p100-pcie-16gb.csv')]);
  expect(badTopo.exitCode).toBe(1);
  expect(badTopo.stderr).toMatch(/topo -m: no header line with GPU0/);
  expect(badTopo.stdout).toBe('');
});

test('gpus on a host without nvidia-smi: zero GPUs and the note; with the double: the live JSON', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-no-nvidia-smi-'));
  const double = writeNvidiaSmiDouble({ query: 'query-gpu/h100-80gb-mig-driver590.csv', topo: 'topo/8x-a100-sxm4-40gb-nv12.txt', apps: 'compute-apps/h100-80gb-three-processes.csv' });
  try {
    const none = await enclave(['gpus'], { PATH: empty });
    expect(none.exitCode).toBe(0);
    expect(JSON.parse(none.stdout)).toEqual({
      gpus: [],
      topology: null,
      processes: null,
      driverVersion: null,
      cudaVersion: null,
      note: 'nvidia-smi not found: this host has no NVIDIA GPUs',
    });
    const live = await enclave(['gpus'], { PATH: `${double.dir}:${process.env.PATH}` });
    expect(live.exitCode).toBe(0);
    const out = JSON.parse(live.stdout);
    expect(out.gpus[0].memoryTotalMiB).toBe(81559);
    expect(out.topology.links[0][1]).toBe('NV12');
    expect(out.processes).toHaveLength(3);
    expect([out.driverVersion, out.cudaVersion, out.note]).toEqual(['590.48.01', '13.1', undefined]);
  } finally {
    fs.rmSync(empty, { recursive: true });
    double.remove();
  }
});
